"""MariaDB's connections past SQLAlchemy: an asyncmy pool for the Tables API's writes and
reads by statement.

Through SQLAlchemy's pool a one-statement write cost a checkout, the statement, a COMMIT
and the rollback of the return to the pool (four round trips, and SQLAlchemy's own work
around each): about a third of a bare asyncmy pool's rate. Here one statement alone runs
on a connection in autocommit mode (one round trip, atomic on its own), and several (an
update and the read of what it wrote) on a connection of a second pool, sent as one
batch: ``START TRANSACTION; UPDATE …; SELECT …; COMMIT`` in a single packet, one round
trip where a statement at a time took three (the server stops at the first statement it
refuses, and the transaction is rolled back). With a ``check`` on the rows the COMMIT waits
for it (two round trips). That pool's connections are in autocommit mode too, and each
batch opens its transaction itself: asyncmy (0.2.18) keeps the server status of a batch's
last answer only when it is not zero, which it is after a COMMIT with autocommit off, and
its pool then took every connection for one inside a transaction and closed it.
Each connection has the session SQLAlchemy's gives (``SESSION``: UTC, the longest
GROUP_CONCAT) and the same connection arguments.

Batches need the client flag MULTI_STATEMENTS, set on the transactions' pool alone. What
it sends is only what dbplane compiled (SQLAlchemy Core, identifiers checked against the
live schema) with each value turned into a literal by the driver's own escaping, which
follows the server's NO_BACKSLASH_ESCAPES status as it reports it on every answer: the
same text a statement at a time would send, joined by ``;``. No text from a request
reaches this pool unescaped, and the autocommit pool (reads, single writes) keeps the
flag off.

A connection that failed in any way but a statement the server refused (dropped by the
server, cancelled mid-statement, a protocol error) is closed, never handed out again: a
half-read answer left on it would be the next statement's (wrong rows). One that is
still inside a transaction when it comes back is closed by asyncmy's pool too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from dbplane.errors import DbplaneError, ValueTooLarge

__all__ = ["SESSION", "DriverPool", "check_packet", "statement_size"]

SESSION = "SET time_zone = '+00:00', group_concat_max_len = 1073741824"
"""Every connection's session: UTC, so TIMESTAMP columns read and write instants the same
way on every server; JSON_ARRAYAGG is built on GROUP_CONCAT, which cuts at
group_concat_max_len (1 MiB by default): the Tables API renders whole pages with it."""

Rows = list[tuple[Any, ...]]


def statement_size(statement: str, values: Iterable[Any]) -> int:
    """About how many bytes the statement with its values takes on the wire (bytes
    are sent as hex literals: two characters a byte)."""
    size = len(statement.encode("utf-8", "replace"))
    for value in values:
        if isinstance(value, str | bytes | bytearray):
            size += len(value) * (2 if isinstance(value, bytes | bytearray) else 1)
    return size


def check_packet(size: int, limit: int | None) -> None:
    """Refuse a statement the server would refuse as bigger than ``max_allowed_packet``
    (it drops the connection on it, and the outcome of a write would look unknown): a
    ValueTooLarge (413) naming the limit, before anything is sent."""
    if limit and size > limit:
        raise ValueTooLarge(
            f"the statement is about {size} bytes, more than the server's "
            f"max_allowed_packet ({limit} bytes): send smaller values or fewer rows; "
            "nothing was written", limit=limit, size=size)


def _client_error(number: int | None) -> bool:
    # 2000-2999: the client library's own errors (lost connection, commands out of sync)
    return number is None or 2000 <= number < 3000


class DriverPool:
    """Up to ``size`` asyncmy connections for statements alone and ``size`` for batches
    (MULTI_STATEMENTS), all in autocommit mode, each pool opened on first use."""

    def __init__(self, connect_args: Callable[[], dict[str, Any]], size: int,
                 recycle: int) -> None:
        self._connect_args = connect_args
        self._size = size
        self._recycle = recycle
        self._pool: Any = None
        self._tx_pool: Any = None
        self._lock = asyncio.Lock()
        self._server_error: type[Exception] = _NoDriverError
        self.max_packet: int | None = None
        """The server's max_allowed_packet, read when the pool opens."""

    async def _open_tx(self) -> Any:
        import asyncmy
        from asyncmy.constants.CLIENT import MULTI_STATEMENTS

        async with self._lock:
            if self._tx_pool is None:
                args = self._connect_args()
                args["client_flag"] = args.get("client_flag", 0) | MULTI_STATEMENTS
                self._tx_pool = await asyncmy.create_pool(
                    **args, minsize=1, maxsize=self._size,
                    pool_recycle=self._recycle, autocommit=True, init_command=SESSION)
            return self._tx_pool

    async def _open(self) -> Any:
        import asyncmy
        from asyncmy.errors import MySQLError

        async with self._lock:
            if self._pool is None:
                pool = await asyncmy.create_pool(
                    **self._connect_args(), minsize=1, maxsize=self._size,
                    pool_recycle=self._recycle, autocommit=True, init_command=SESSION)
                try:
                    async with pool.acquire() as conn, conn.cursor() as cur:
                        await cur.execute("SELECT @@max_allowed_packet")
                        row = await cur.fetchone()
                except BaseException:
                    pool.close()
                    await pool.wait_closed()
                    raise
                self.max_packet = int(row[0]) if row else None
                self._server_error = MySQLError
                self._pool = pool
            return self._pool

    def _refused(self, exc: BaseException) -> bool:
        """Whether ``exc`` is the server refusing a statement (the connection is fine)."""
        if isinstance(exc, DbplaneError):
            return True
        if not isinstance(exc, self._server_error):
            return False
        args = getattr(exc, "args", ())
        return not _client_error(args[0] if args and isinstance(args[0], int) else None)

    async def run(self, statements: Sequence[tuple[str, tuple[Any, ...]]],
                  check: Callable[[list[Rows]], None] | None = None) -> list[Rows]:
        """Run ``statements`` in one transaction (one alone: as it is, in autocommit) and
        answer each one's rows ([] for a statement answering none)."""
        pool = self._pool or await self._open()
        sizes = [statement_size(sql, args) for sql, args in statements]
        alone = len(statements) == 1 and check is None
        # a batch is one packet: its statements together must fit
        check_packet(sizes[0] if alone else sum(sizes) + 64, self.max_packet)
        if not alone:
            return await self._batch(statements, check)
        async with pool.acquire() as conn:
            try:
                async with conn.cursor() as cur:
                    sql, args = statements[0]
                    await cur.execute(sql, args)
                    return [list(await cur.fetchall()) if cur.description else []]
            except BaseException as exc:
                if not self._refused(exc):
                    conn.close()
                raise

    async def _batch(self, statements: Sequence[tuple[str, tuple[Any, ...]]],
                     check: Callable[[list[Rows]], None] | None) -> list[Rows]:
        """``statements`` and, without a check, the COMMIT, in one packet on a
        connection of the transactions' pool; each statement's answer read in turn."""
        pool = self._tx_pool or await self._open_tx()
        async with pool.acquire() as conn:
            try:
                out: list[Rows] = []
                async with conn.cursor() as cur:
                    texts = ["START TRANSACTION"]
                    texts += [cur.mogrify(sql, args) for sql, args in statements]
                    if check is None:
                        texts.append("COMMIT")
                    await cur.execute(";\n".join(texts))
                    for i in range(len(statements)):
                        if not await cur.nextset():
                            raise _OutOfStep(f"no answer to statement {i + 1}")
                        out.append(list(await cur.fetchall()) if cur.description else [])
                    if check is None:
                        if not await cur.nextset():
                            raise _OutOfStep("no answer to the COMMIT")
                        if await cur.nextset():
                            raise _OutOfStep("more answers than statements")
                        return out
                    check(out)
                await conn.commit()
                return out
            except BaseException as exc:
                if not self._refused(exc):
                    conn.close()
                    raise
                try:
                    await conn.rollback()
                except BaseException:
                    conn.close()
                    raise
                raise

    async def first(self, sql: str, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
        """The first row of one read-only statement."""
        rows = (await self.run([(sql, args)]))[0]
        return tuple(rows[0]) if rows else None

    async def clear(self) -> None:
        """Close the idle connections (the server dropped them, most likely)."""
        for pool in (self._pool, self._tx_pool):
            if pool is not None:
                await pool.clear()

    async def close(self) -> None:
        pools = (self._pool, self._tx_pool)
        self._pool = self._tx_pool = None
        for pool in pools:
            if pool is not None:
                pool.close()
                await pool.wait_closed()


class _OutOfStep(Exception):
    """The server's answers to a batch did not match its statements: the connection is
    closed (never a refusal, so never handed out again)."""


class _NoDriverError(Exception):
    """Stands for asyncmy's MySQLError until the pool has imported the driver."""
