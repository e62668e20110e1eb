"""The Python client of the dbplane HTTP API.

    from dbplane import ApiClient

    with ApiClient() as client:            # DBPLANE_URL and DBPLANE_TOKEN
        shop = client.databases.get("shop")
        print(shop["status"], shop["readable_version"])
        top = shop.tables("users").list(filters={"score": {"$gt": 500}}, sort="score:desc")

Answers are the API's JSON as dicts and lists. Errors are the classes of
``dbplane.errors`` (matched on the answer's ``code``), with a ``status_code`` attribute.
Imports only ``dbplane.errors`` and httpx.
"""

from __future__ import annotations

from dbplane.client._client import ApiClient, AsyncApiClient
from dbplane.client._http import ConnectionFailed
from dbplane.client.databases import AsyncDatabase, Database
from dbplane.client.operations import AsyncOperation, Operation
from dbplane.client.tables import AsyncTable, Rows, Table

__all__ = ["ApiClient", "AsyncApiClient", "AsyncDatabase", "AsyncOperation", "AsyncTable",
           "ConnectionFailed", "Database", "Operation", "Rows", "Table"]
