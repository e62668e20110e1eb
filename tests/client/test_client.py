"""What every request shares: configuration from the environment, the connection, and
answers that are not what a dbplane server says."""

from __future__ import annotations

import pytest

from dbplane import ApiClient, AsyncApiClient
from dbplane.client import ConnectionFailed
from dbplane.errors import DbplaneError, Unavailable
from tests.conftest import LiveServer
from tests.fixtures.services import free_port


def test_health_needs_no_token(live_server: LiveServer) -> None:
    with ApiClient(token="", base_url=live_server.base_url) as c:
        health = c.health()
    assert health["status"] == "ok"
    assert set(health) == {"status", "version", "metadata_store"}


async def test_async_health(aclient: AsyncApiClient) -> None:
    assert (await aclient.health())["status"] == "ok"


def test_url_and_token_from_the_environment(live_server: LiveServer,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBPLANE_URL", live_server.base_url + "/")
    monkeypatch.setenv("DBPLANE_TOKEN", live_server.token)
    with ApiClient() as c:
        assert c.base_url == live_server.base_url
        assert c.database.get()["resource_id"] == "default"


def test_default_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DBPLANE_URL", raising=False)
    with ApiClient() as c:
        assert c.base_url == "http://127.0.0.1:8080"


def test_repr_does_not_show_the_token(live_server: LiveServer) -> None:
    with ApiClient(live_server.token, live_server.base_url) as c:
        assert live_server.token not in repr(c)
        assert live_server.base_url in repr(c)


def test_a_server_that_does_not_answer() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with ApiClient("t", url) as c, pytest.raises(ConnectionFailed) as info:
        c.databases.list()
    err = info.value
    assert isinstance(err, Unavailable) and err.code == "DBP-S101"
    assert url in err.detail and err.fields == {"base_url": url}
    assert err.status_code is None
    assert err.__cause__ is not None


async def test_async_a_server_that_does_not_answer() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    async with AsyncApiClient("t", url) as c:
        with pytest.raises(ConnectionFailed, match=url):
            await c.health()


def test_an_error_that_is_not_problem_details(proxy_like: str) -> None:
    with ApiClient("t", proxy_like + "/bad-gateway") as c, \
            pytest.raises(DbplaneError) as info:
        c.health()
    err = info.value
    assert type(err) is DbplaneError
    assert err.status_code == 502
    assert "502" in err.detail and "upstream is down" in err.detail


def test_a_code_this_client_does_not_know(proxy_like: str) -> None:
    with ApiClient("t", proxy_like + "/future") as c, pytest.raises(DbplaneError) as info:
        c.health()
    err = info.value
    assert err.detail == "a newer error"
    assert err.fields == {"field": "x", "code": "DBP-Z999"}
    assert err.status_code == 418


async def test_a_success_that_is_not_json(proxy_like: str) -> None:
    async with AsyncApiClient("t", proxy_like) as c:
        with pytest.raises(DbplaneError, match="not JSON"):
            await c.health()
