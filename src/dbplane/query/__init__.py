"""The Tables API's query planner. Pure: request parameters → a validated query
description, checked against a table's live schema; no I/O and no driver imports.
(Arrives with the Tables API issue.)"""
