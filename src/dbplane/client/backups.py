"""``db.backups`` (issue 7): create, list, download, upload, restore, verify, delete.

``create`` and ``restore`` start an operation: they answer it (an
:class:`~dbplane.client.operations.Operation`), or with ``wait=True`` wait for it to end —
``create(wait=True)`` then answers the finished backup, ``restore(id, wait=True)`` the
finished operation — and raise the error it failed with.
"""

from __future__ import annotations

import builtins
import os
from pathlib import Path
from typing import IO, Any

import httpx

from dbplane.client._http import AsyncHttp, SyncHttp, as_list, as_object, path, unwrap
from dbplane.client.operations import (
    AsyncOperation,
    Operation,
    as_async_operation,
    as_operation,
)

__all__ = ["AsyncBackups", "Backups"]

Source = str | os.PathLike[str] | bytes
"""An archive to upload: a file path or its bytes."""


def _base(ref: str, *more: str) -> str:
    return path("databases", ref, "backups", *more)


_Files = dict[str, tuple[str, bytes | IO[bytes]]]


def _upload_parts(source: Source, checksum: str | None
                  ) -> tuple[_Files, dict[str, str], IO[bytes] | None]:
    data = {"checksum": checksum} if checksum else {}
    if isinstance(source, bytes):
        return {"file": ("archive", source)}, data, None
    fh = open(source, "rb")  # noqa: SIM115 (closed by the caller)
    return {"file": (Path(source).name, fh)}, data, fh


class Backups:
    """The backups of one database."""

    def __init__(self, http: SyncHttp, ref: str) -> None:
        self._http = http
        self._ref = ref

    def list(self) -> builtins.list[dict[str, Any]]:
        """Its backups, newest first (``id``, ``name``, ``status``, ``method``, ``size``,
        ``checksum``, ``created_at``…)."""
        return as_list(unwrap(self._http.request("GET", _base(self._ref)),
                              "database_backups"))

    def get(self, backup_id: str) -> dict[str, Any]:
        """One backup; BackupNotFound (DBP-B101)."""
        return as_object(unwrap(self._http.request("GET", _base(self._ref, backup_id)),
                                "database_backup"))

    def create(self, wait: bool = False, timeout: float | None = None
               ) -> Operation | dict[str, Any]:
        """Start a manual backup and answer its operation; with ``wait``, wait for it
        and answer the finished backup (raising the error the backup failed with).
        OperationConflict (409) while a backup or restore of the database runs."""
        op = as_operation(self._http, self._http.request("POST", _base(self._ref)))
        if not wait:
            return op
        op.wait(timeout=timeout)
        return self.get(str(op["params"]["backup_id"]))

    def restore(self, backup_id: str, wait: bool = False,
                timeout: float | None = None) -> Operation:
        """Restore a done backup into the database (checksum and format verified first);
        answers the operation, ended when ``wait``."""
        op = as_operation(self._http, self._http.request(
            "POST", _base(self._ref, backup_id, "restore")))
        return op.wait(timeout=timeout) if wait else op

    def verify(self, backup_id: str, wait: bool = False, timeout: float | None = None
               ) -> Operation | dict[str, Any]:
        """Start a restore drill of a done backup (restored into a scratch copy, never
        the live database, and compared with what was recorded at backup time); answers
        its operation, or with ``wait`` the backup with its ``verification`` ``{status:
        passed|failed, differences}`` (a failed drill is a result, not an exception).
        BackupNotReady (409) for a backup that is not done."""
        op = as_operation(self._http, self._http.request(
            "POST", _base(self._ref, backup_id, "verify")))
        if not wait:
            return op
        op.wait(timeout=timeout)
        return self.get(backup_id)

    def download(self, backup_id: str, dest: str | os.PathLike[str]) -> Path:
        """Stream a done backup's archive to ``dest`` (a file, or a directory where it
        keeps the server's file name); answers the file written."""
        target = Path(dest)
        with self._http.stream("GET", _base(self._ref, backup_id, "archive")) as response:
            if target.is_dir():
                target = target / _filename(response, backup_id)
            with open(target, "wb") as out:
                for chunk in response.iter_bytes(1 << 20):
                    out.write(chunk)
        return target

    def upload(self, source: Source, checksum: str | None = None) -> dict[str, Any]:
        """Upload an archive (a path or bytes) as a backup of method ``upload``; the server
        checks its format (and ``checksum``, ``sha256:<hex>``, when given) first and
        refuses it with ArchiveInvalid / ArchiveChecksumMismatch. Answers the backup."""
        files, data, fh = _upload_parts(source, checksum)
        try:
            response = self._http.send("POST", _base(self._ref, "upload"), files=files,
                                       data=data)
        finally:
            if fh is not None:
                fh.close()
        return as_object(unwrap(response.json(), "database_backup"))

    def delete(self, backup_id: str) -> None:
        """Delete a backup and its archive; BackupInUse (409) while it is being made or
        restored."""
        self._http.request("DELETE", _base(self._ref, backup_id))


class AsyncBackups:
    """The backups of one database, for the async client; see :class:`Backups`."""

    def __init__(self, http: AsyncHttp, ref: str) -> None:
        self._http = http
        self._ref = ref

    async def list(self) -> builtins.list[dict[str, Any]]:
        """Its backups, newest first."""
        return as_list(unwrap(await self._http.request("GET", _base(self._ref)),
                              "database_backups"))

    async def get(self, backup_id: str) -> dict[str, Any]:
        """One backup; BackupNotFound (DBP-B101)."""
        return as_object(unwrap(await self._http.request("GET", _base(self._ref, backup_id)),
                                "database_backup"))

    async def create(self, wait: bool = False,
                     timeout: float | None = None,  # noqa: ASYNC109
                     ) -> AsyncOperation | dict[str, Any]:
        """Start a manual backup; see :meth:`Backups.create`."""
        op = as_async_operation(self._http, await self._http.request("POST",
                                                                     _base(self._ref)))
        if not wait:
            return op
        await op.wait(timeout=timeout)
        return await self.get(str(op["params"]["backup_id"]))

    async def restore(self, backup_id: str, wait: bool = False,
                      timeout: float | None = None,  # noqa: ASYNC109
                      ) -> AsyncOperation:
        """Restore a done backup; see :meth:`Backups.restore`."""
        op = as_async_operation(self._http, await self._http.request(
            "POST", _base(self._ref, backup_id, "restore")))
        return await op.wait(timeout=timeout) if wait else op

    async def verify(self, backup_id: str, wait: bool = False,
                     timeout: float | None = None,  # noqa: ASYNC109
                     ) -> AsyncOperation | dict[str, Any]:
        """Start a restore drill; see :meth:`Backups.verify`."""
        op = as_async_operation(self._http, await self._http.request(
            "POST", _base(self._ref, backup_id, "verify")))
        if not wait:
            return op
        await op.wait(timeout=timeout)
        return await self.get(backup_id)

    async def download(self, backup_id: str, dest: str | os.PathLike[str]) -> Path:
        """Stream a done backup's archive to ``dest``; see :meth:`Backups.download`."""
        target = Path(dest)
        async with self._http.stream("GET", _base(self._ref, backup_id,
                                                  "archive")) as response:
            if target.is_dir():  # noqa: ASYNC240
                target = target / _filename(response, backup_id)
            with open(target, "wb") as out:  # noqa: ASYNC230
                async for chunk in response.aiter_bytes(1 << 20):
                    out.write(chunk)
        return target

    async def upload(self, source: Source, checksum: str | None = None) -> dict[str, Any]:
        """Upload an archive as a backup; see :meth:`Backups.upload`."""
        files, data, fh = _upload_parts(source, checksum)
        try:
            response = await self._http.send("POST", _base(self._ref, "upload"),
                                             files=files, data=data)
        finally:
            if fh is not None:
                fh.close()
        return as_object(unwrap(response.json(), "database_backup"))

    async def delete(self, backup_id: str) -> None:
        """Delete a backup and its archive."""
        await self._http.request("DELETE", _base(self._ref, backup_id))


def _filename(response: httpx.Response, backup_id: str) -> str:
    disposition = response.headers.get("content-disposition", "")
    for part in disposition.split(";"):
        key, _, value = part.strip().partition("=")
        if key == "filename" and value:
            name = Path(value.strip('"')).name
            if name and name not in (".", ".."):
                return name
    return f"{backup_id}.archive"
