"""Fixtures every test can use.

- ``app_client``: the real ASGI app, started with its lifespan, called in-process through
  httpx, with a fresh data directory and an admin token (``ADMIN_TOKEN``).
- ``meta_backend``: where that app keeps its metadata. SQLite by default; tests that
  parametrise it indirectly (see tests/meta) run on a fresh PostgreSQL database too.
- ``live_server``: one real uvicorn server in a thread for the whole run (CLI, client).
- Engine fixtures (a fresh SQLite, PostgreSQL and MariaDB database per module) are in
  ``tests/fixtures/servers.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from hypothesis import settings
from sqlalchemy import create_engine, text

from dbplane.api.app import create_app
from dbplane.services.context import AppContext
from dbplane.settings import Settings
from tests.fixtures.services import PG_HOST, PG_PORT, free_port, require_server, unique_name

pytest_plugins = ["tests.fixtures.servers"]

# CI runs property tests with a bounded number of examples (.ci/run sets the profile)
settings.register_profile("ci", max_examples=50, deadline=None)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

ADMIN_TOKEN = "dbp_test-admin-token-0123456789abcdefghijklmnop"


@dataclass
class MetaBackend:
    name: str
    url: str | None


def _create_pg_database(name: str) -> None:
    engine = create_engine(f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/postgres",
                           isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()


def _drop_pg_database(name: str) -> None:
    engine = create_engine(f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/postgres",
                           isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture
def meta_backend(request: pytest.FixtureRequest) -> Iterator[MetaBackend]:
    """The metadata store's backend: ``sqlite`` unless parametrised with ``postgresql``."""
    name = getattr(request, "param", "sqlite")
    if name == "sqlite":
        yield MetaBackend("sqlite", None)
        return
    require_server("postgresql", PG_HOST, PG_PORT)
    db = unique_name("dbp_meta")
    _create_pg_database(db)
    try:
        yield MetaBackend("postgresql", f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{db}")
    finally:
        _drop_pg_database(db)


def make_settings(data_dir: Path, meta: MetaBackend | None = None, **extra: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": data_dir,
        "admin_token": ADMIN_TOKEN,
        "log_json": False,
        **extra,
    }
    if meta is not None and meta.url is not None:
        values["meta_url"] = meta.url
    return Settings(**values)  # type: ignore[arg-type]


@dataclass
class AppHandle:
    app: FastAPI
    client: httpx.AsyncClient

    @property
    def ctx(self) -> AppContext:
        ctx: AppContext = self.app.state.ctx
        return ctx


@pytest.fixture
async def app_handle(tmp_path: Path, meta_backend: MetaBackend) -> AsyncIterator[AppHandle]:
    app = create_app(make_settings(tmp_path / "data", meta_backend))
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dbplane.test",
                                     headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
                                     ) as client:
            yield AppHandle(app=app, client=client)


@pytest.fixture
async def app_client(app_handle: AppHandle) -> httpx.AsyncClient:
    """An httpx client on the in-process app, authenticated as admin."""
    return app_handle.client


@dataclass
class LiveServer:
    base_url: str
    token: str
    data_dir: Path


@contextmanager
def run_live_server(data_dir: Path) -> Iterator[LiveServer]:
    """A real uvicorn server on a free port, in a thread, until the block ends."""
    port = free_port()
    # managed servers run as an unprivileged user: not under pytest's 0700 tmp directory
    managed_dir = Path(tempfile.mkdtemp(prefix="dbp-live-managed-"))
    managed_dir.chmod(0o755)
    app = create_app(make_settings(data_dir, managed_dir=managed_dir))
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the live dbplane server did not start")
        time.sleep(0.05)
    try:
        yield LiveServer(base_url=f"http://127.0.0.1:{port}", token=ADMIN_TOKEN,
                         data_dir=data_dir)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        _stop_managed(managed_dir)
        shutil.rmtree(managed_dir, ignore_errors=True)


def _stop_managed(managed_dir: Path) -> None:
    """Stop the managed servers a live server's tests left running (they outlive it)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if str(managed_dir).encode() in cmdline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(proc.name), signal.SIGKILL)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One real server shared by the whole run (CLI and client tests)."""
    with run_live_server(tmp_path_factory.mktemp("live") / "data") as server:
        yield server
