"""Database URLs: which engine a URL names, and its form with the password hidden."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from dbplane.errors import InvalidDatabaseUrl

__all__ = ["DatabaseUrl", "parse_database_url", "redact_text", "redact_url"]

# the password runs to the last "@" of the URL (a password with "@", "/" or ":" that was
# not percent-encoded is hidden whole, never in part)
_PASSWORD_IN_URL = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.\-]*://[^:/@\s]*:)[^\s]*@")


def redact_text(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***``."""
    return _PASSWORD_IN_URL.sub(r"\g<head>***@", text)


@dataclass(frozen=True)
class DatabaseUrl:
    """A parsed database URL."""

    raw: str
    type_name: str
    url: URL
    default_port: int | None = None
    """The port of the type's servers when the URL names none (None: a file)."""

    @property
    def host(self) -> str | None:
        return self.url.host

    @property
    def port(self) -> int | None:
        if self.default_port is None:
            return None
        return self.url.port or self.default_port

    @property
    def database(self) -> str | None:
        return self.url.database

    @property
    def file_path(self) -> Path:
        """The database part as a file path (file-based types)."""
        return Path(self.url.database or "")

    def redacted(self) -> str:
        return redact_url(self.raw)


_SECRET_PARAMS = ("password", "passwd", "pwd", "secret", "token", "key")


def redact_url(raw: str) -> str:
    """The URL with its password, and any password-like query parameter, replaced by
    ``***`` (never the secret itself)."""
    try:
        url = make_url(raw)
    except (ArgumentError, ValueError):
        return redact_text(raw)
    query = {k: ("***" if any(p in k.lower() for p in _SECRET_PARAMS) else v)
             for k, v in url.query.items()}
    if query != dict(url.query):
        url = url.set(query=query)
    # SQLAlchemy percent-encodes the stars of a query value
    return url.render_as_string(hide_password=True).replace("%2A%2A%2A", "***")


def parse_database_url(raw: str) -> DatabaseUrl:
    """Parse ``raw`` and tell its type, or raise InvalidDatabaseUrl saying what is wrong
    (the scheme names no type served, or the type's own checks refuse it)."""
    from dbplane.engines import registry  # the registry imports the engine classes

    bad = next((c for c in raw if ord(c) < 32 or ord(c) == 127), None)
    if bad is not None:
        raise InvalidDatabaseUrl(f"the url has the control character {bad!r} in it (at "
                                 f"{raw.index(bad)}); a URL never does",
                                 url=redact_text(raw.replace(bad, "?")))
    _, _, rest = raw.partition("://")
    after_host = re.split(r"[/?#]", rest, maxsplit=1)[1:]
    if rest and not rest.startswith("/") and after_host and "@" in after_host[0]:
        raise InvalidDatabaseUrl("the url has an '@' after its host: a user name, "
                                 "password or option with '@', '/', ':', '?' or '#' must "
                                 "be percent-encoded (%40, %2F, %3A, %3F, %23)",
                                 url=redact_text(raw))
    try:
        url = make_url(raw)
    except (ArgumentError, ValueError) as exc:
        raise InvalidDatabaseUrl("the url is not a database URL such as "
                                 "postgresql://user:password@host:5432/name",
                                 url=redact_text(raw)) from exc
    backend = url.get_backend_name()
    type_name = registry.type_for_scheme(backend)
    if type_name is None:
        raise InvalidDatabaseUrl(
            f"the url scheme {backend!r} is not one dbplane serves; use one of "
            + ", ".join(sorted(registry.url_schemes())), url=redact_url(raw))
    cls = registry.engine_class(type_name)
    parsed = DatabaseUrl(raw=raw, type_name=type_name, url=url,
                         default_port=cls.default_port)
    cls.check_url(parsed)
    return parsed
