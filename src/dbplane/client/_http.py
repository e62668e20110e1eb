"""The one layer that speaks HTTP: an httpx client, the bearer token, and every answer
turned into JSON values or a dbplane error.

Resources above it deal in paths and JSON only. A problem-details answer becomes the error
class of its ``code`` (the same class the server raised); a failure below HTTP becomes
:class:`ConnectionFailed`, naming the server it could not reach.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any, NamedTuple
from urllib.parse import quote

import httpx

from dbplane.errors import DbplaneError, Unavailable, error_class_for_code

__all__ = [
    "CLIENT_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "DEFAULT_URL",
    "Answer",
    "AsyncHttp",
    "ConnectionFailed",
    "Params",
    "SyncHttp",
    "Timeout",
    "as_list",
    "as_object",
    "new_async_http",
    "new_sync_http",
    "path",
    "unwrap",
]

DEFAULT_URL = "http://127.0.0.1:8080"
DEFAULT_TIMEOUT = 30.0
_HEADERS = {"Accept": "application/json", "User-Agent": "dbplane-client"}

Params = Sequence[tuple[str, str]]

# a per-request timeout: seconds, None for no limit, or CLIENT_TIMEOUT for the client's own
Timeout = float | None | httpx._client.UseClientDefault
CLIENT_TIMEOUT = httpx.USE_CLIENT_DEFAULT
"""Query parameters in order; a name may repeat."""


class Answer(NamedTuple):
    """A decoded answer with its headers, for the few calls that read one
    (``Content-Range``)."""

    body: Any
    headers: httpx.Headers


class ConnectionFailed(Unavailable):
    """The dbplane server could not be reached, or did not answer in time."""

    # raised by the client only, never answered by a server (reserved in errors.py)
    code = "DBP-S101"

    def __init__(self, detail: str, *, base_url: str) -> None:
        super().__init__(detail, base_url=base_url)
        self.base_url = base_url


def _resolve_base_url(base_url: str | None) -> str:
    return (base_url or os.environ.get("DBPLANE_URL") or DEFAULT_URL).rstrip("/")


def _resolve_token(token: str | None) -> str | None:
    return token if token is not None else (os.environ.get("DBPLANE_TOKEN") or None)


def path(*segments: str) -> str:
    """``/v1/a/b``, each segment quoted so an id can never step into another route."""
    return "/v1/" + "/".join(quote(s, safe="") for s in segments)


def _connection_failed(base_url: str, exc: httpx.TransportError) -> ConnectionFailed:
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        what = f"cannot connect to dbplane at {base_url}"
    elif isinstance(exc, httpx.TimeoutException):
        what = f"dbplane at {base_url} did not answer in time"
    else:
        what = f"the connection to dbplane at {base_url} failed"
    reason = str(exc) or type(exc).__name__
    return ConnectionFailed(f"{what}: {reason}", base_url=base_url)


def _error(response: httpx.Response) -> DbplaneError:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("code"), str):
        cls = error_class_for_code(body["code"])
        err = cls.from_problem(body)
        if cls.code != body["code"]:
            # a code this client does not know (a newer server): keep it for the caller
            err.fields["code"] = body["code"]
    else:
        text = response.text.strip()[:200]
        err = DbplaneError(f"{response.request.method} {response.request.url} answered "
                           f"{response.status_code} {response.reason_phrase}"
                           + (f": {text}" if text else ""))
    err.status_code = response.status_code
    return err


def _answer(response: httpx.Response) -> Any:
    if not response.is_success:
        raise _error(response)
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError as exc:
        raise DbplaneError(f"{response.request.url} answered {response.status_code} with a "
                           "body that is not JSON: is it a dbplane server?") from exc


def _query(params: Params | None) -> tuple[tuple[str, str], ...] | None:
    return tuple(params) if params else None


def _headers(token: str | None, authenticated: bool) -> dict[str, str]:
    if authenticated and token:
        return {"Authorization": f"Bearer {token}"}
    return {}


class SyncHttp:
    """Requests through one ``httpx.Client``, with one token."""

    def __init__(self, client: httpx.Client, token: str | None, *, owns_client: bool) -> None:
        self._client = client
        self._token = token
        self._owns_client = owns_client

    @property
    def base_url(self) -> str:
        return str(self._client.base_url).rstrip("/")

    def request(self, method: str, url: str, *, json: Mapping[str, Any] | None = None,
                params: Params | None = None, authenticated: bool = True,
                request_timeout: Timeout = CLIENT_TIMEOUT,
                headers: Mapping[str, str] | None = None) -> Any:
        """The decoded JSON answer (None for 204); raises the error the server answered.
        ``request_timeout`` overrides the client's for this request (None: wait as long as the
        server works, for requests that run long work to its end)."""
        return self.request_with_headers(method, url, json=json, params=params,
                                         authenticated=authenticated,
                                         request_timeout=request_timeout,
                                         headers=headers).body

    def request_with_headers(self, method: str, url: str, *,
                             json: Mapping[str, Any] | None = None,
                             params: Params | None = None,
                             authenticated: bool = True,
                             request_timeout: Timeout = CLIENT_TIMEOUT,
                             headers: Mapping[str, str] | None = None) -> Answer:
        """As :meth:`request`, with the answer's headers; ``headers``: more to send
        (``Prefer``)."""
        try:
            response = self._client.request(method, url, json=json, params=_query(params),
                                            headers={**_headers(self._token, authenticated),
                                                     **(headers or {})},
                                            timeout=request_timeout)
        except httpx.TransportError as exc:
            raise _connection_failed(self.base_url, exc) from exc
        return Answer(_answer(response), response.headers)

    def send(self, method: str, url: str, *, params: Params | None = None,
             json: Mapping[str, Any] | None = None, files: Any = None,
             data: Mapping[str, str] | None = None,
             request_timeout: Timeout = CLIENT_TIMEOUT) -> httpx.Response:
        """The answer itself, for bodies that are not JSON (YAML, SQL text, files) or a
        multipart upload (``files``, ``data``); raises the error the server answered."""
        try:
            response = self._client.request(
                method, url, params=_query(params), json=json, files=files, data=data,
                headers=_headers(self._token, True), timeout=request_timeout)
        except httpx.TransportError as exc:
            raise _connection_failed(self.base_url, exc) from exc
        if not response.is_success:
            raise _error(response)
        return response

    @contextmanager
    def stream(self, method: str, url: str, *,
               params: Params | None = None) -> Iterator[httpx.Response]:
        """The answer with its body not read yet (a large download); raises the error the
        server answered."""
        try:
            with self._client.stream(method, url, params=_query(params),
                                     headers=_headers(self._token, True)) as response:
                if not response.is_success:
                    response.read()
                    raise _error(response)
                yield response
        except httpx.TransportError as exc:
            raise _connection_failed(self.base_url, exc) from exc

    def with_token(self, token: str | None) -> SyncHttp:
        """The same connection pool with another token; closing it leaves the pool open."""
        return SyncHttp(self._client, token, owns_client=False)

    def close(self) -> None:
        if self._owns_client:
            self._client.close()


class AsyncHttp:
    """Requests through one ``httpx.AsyncClient``, with one token."""

    def __init__(self, client: httpx.AsyncClient, token: str | None, *,
                 owns_client: bool) -> None:
        self._client = client
        self._token = token
        self._owns_client = owns_client

    @property
    def base_url(self) -> str:
        return str(self._client.base_url).rstrip("/")

    async def request(self, method: str, url: str, *, json: Mapping[str, Any] | None = None,
                      params: Params | None = None, authenticated: bool = True,
                      request_timeout: Timeout = CLIENT_TIMEOUT,
                      headers: Mapping[str, str] | None = None) -> Any:
        """The decoded JSON answer (None for 204); raises the error the server answered.
        ``request_timeout``: see :meth:`SyncHttp.request`."""
        answer = await self.request_with_headers(method, url, json=json, params=params,
                                                 authenticated=authenticated,
                                                 request_timeout=request_timeout,
                                                 headers=headers)
        return answer.body

    async def request_with_headers(self, method: str, url: str, *,
                                   json: Mapping[str, Any] | None = None,
                                   params: Params | None = None,
                                   authenticated: bool = True,
                                   request_timeout: Timeout = CLIENT_TIMEOUT,
                                   headers: Mapping[str, str] | None = None) -> Answer:
        """As :meth:`request`, with the answer's headers; ``headers``: more to send."""
        try:
            response = await self._client.request(
                method, url, json=json, params=_query(params),
                headers={**_headers(self._token, authenticated), **(headers or {})},
                timeout=request_timeout)
        except httpx.TransportError as exc:
            raise _connection_failed(self.base_url, exc) from exc
        return Answer(_answer(response), response.headers)

    async def send(self, method: str, url: str, *, params: Params | None = None,
                   json: Mapping[str, Any] | None = None, files: Any = None,
                   data: Mapping[str, str] | None = None,
                   request_timeout: Timeout = CLIENT_TIMEOUT) -> httpx.Response:
        """See :meth:`SyncHttp.send`."""
        try:
            response = await self._client.request(
                method, url, params=_query(params), json=json, files=files, data=data,
                headers=_headers(self._token, True), timeout=request_timeout)
        except httpx.TransportError as exc:
            raise _connection_failed(self.base_url, exc) from exc
        if not response.is_success:
            raise _error(response)
        return response

    @asynccontextmanager
    async def stream(self, method: str, url: str, *,
                     params: Params | None = None) -> AsyncIterator[httpx.Response]:
        """See :meth:`SyncHttp.stream`."""
        try:
            async with self._client.stream(method, url, params=_query(params),
                                           headers=_headers(self._token, True)) as response:
                if not response.is_success:
                    await response.aread()
                    raise _error(response)
                yield response
        except httpx.TransportError as exc:
            raise _connection_failed(self.base_url, exc) from exc

    def with_token(self, token: str | None) -> AsyncHttp:
        """The same connection pool with another token; closing it leaves the pool open."""
        return AsyncHttp(self._client, token, owns_client=False)

    async def close(self) -> None:
        if self._owns_client:
            await self._client.aclose()


def new_sync_http(token: str | None, base_url: str | None, timeout: float | None,
                  transport: httpx.BaseTransport | None) -> SyncHttp:
    client = httpx.Client(base_url=_resolve_base_url(base_url), timeout=timeout,
                          transport=transport, headers=_HEADERS)
    return SyncHttp(client, _resolve_token(token), owns_client=True)


def new_async_http(token: str | None, base_url: str | None, timeout: float | None,
                   transport: httpx.AsyncBaseTransport | None) -> AsyncHttp:
    client = httpx.AsyncClient(base_url=_resolve_base_url(base_url), timeout=timeout,
                               transport=transport, headers=_HEADERS)
    return AsyncHttp(client, _resolve_token(token), owns_client=True)


def _shape_error(expected: str, value: Any) -> DbplaneError:
    return DbplaneError(f"the server answered {type(value).__name__} where {expected} was "
                        "expected: is the client older than the server?")


def as_object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _shape_error("a JSON object", value)
    return value


def as_list(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise _shape_error("a list of JSON objects", value)
    return value


def unwrap(value: Any, key: str) -> Any:
    """``value[key]`` of an enveloped answer such as ``{"database": {...}}``."""
    return as_object(value).get(key)
