"""``client.auth`` and ``client.user()``: user sessions.

An admin API token is not a session: it has no current user and cannot log out (those
answer NotAUserSession). A session token from :meth:`Auth.login` is used like any token:
``client.with_token(answer["token"])``.
"""

from __future__ import annotations

from typing import Any

from dbplane.client._http import AsyncHttp, SyncHttp, as_object, path

__all__ = ["AsyncAuth", "Auth"]


def _login_body(email: str, password: str) -> dict[str, str]:
    return {"email": email, "password": password}


class Auth:
    """``client.auth``: log in and out."""

    def __init__(self, http: SyncHttp) -> None:
        self._http = http

    def login(self, email: str, password: str) -> dict[str, Any]:
        """Open a session: ``{"token", "expires_on", "expires_at", "user"}``. Sends no
        token. Raises InvalidCredentials when the email or the password is wrong."""
        return as_object(self._http.request("POST", path("auth", "login"),
                                            json=_login_body(email, password),
                                            authenticated=False))

    def logout(self) -> None:
        """End the session of this client's token; the token is refused from now on."""
        self._http.request("POST", path("auth", "logout"))

    def user(self) -> dict[str, Any]:
        """The user of this client's session token (NotAUserSession for an API token)."""
        return as_object(self._http.request("GET", path("user")))


class AsyncAuth:
    """``client.auth`` of the async client; see :class:`Auth`."""

    def __init__(self, http: AsyncHttp) -> None:
        self._http = http

    async def login(self, email: str, password: str) -> dict[str, Any]:
        """Open a session; see :meth:`Auth.login`."""
        return as_object(await self._http.request("POST", path("auth", "login"),
                                                  json=_login_body(email, password),
                                                  authenticated=False))

    async def logout(self) -> None:
        """End the session of this client's token."""
        await self._http.request("POST", path("auth", "logout"))

    async def user(self) -> dict[str, Any]:
        """The user of this client's session token (NotAUserSession for an API token)."""
        return as_object(await self._http.request("GET", path("user")))
