"""Routines (issue 6), the pure part: file discovery rules, SQL statement splitting,
factory and seeder specs. No I/O beyond what callers hand in."""
