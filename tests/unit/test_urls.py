"""Database URLs: which engine a URL names, what is refused, and passwords never shown."""

from __future__ import annotations

import pytest

from dbplane.engines import parse_database_url, redact_text, redact_url
from dbplane.errors import InvalidDatabaseUrl

PASSWORD = "S3cret-pw-XYZ"


@pytest.mark.parametrize(
    ("raw", "type_name", "host", "port", "database"),
    [
        ("postgresql://u:p@db.example:5433/app", "postgresql", "db.example", 5433, "app"),
        ("postgresql://u@db.example/app", "postgresql", "db.example", 5432, "app"),
        ("postgres://u:p@db.example/app", "postgresql", "db.example", 5432, "app"),
        ("postgresql+asyncpg://u@db.example/app", "postgresql", "db.example", 5432, "app"),
        ("mysql://root@127.0.0.1:3307/shop", "mysql", "127.0.0.1", 3307, "shop"),
        ("mysql://root@127.0.0.1/shop", "mysql", "127.0.0.1", 3306, "shop"),
        ("mariadb://root@127.0.0.1/shop", "mysql", "127.0.0.1", 3306, "shop"),
        ("redis://127.0.0.1", "redis", "127.0.0.1", 6379, None),
        ("redis://:pw@cache.example:6380/2", "redis", "cache.example", 6380, "2"),
        ("rediss://:pw@cache.example/1", "redis", "cache.example", 6379, "1"),
        ("sqlite:////var/lib/app.db", "sqlite", None, None, "/var/lib/app.db"),
    ],
)
def test_parse_tells_the_type_host_port_and_database(
        raw: str, type_name: str, host: str | None, port: int | None,
        database: str | None) -> None:
    url = parse_database_url(raw)
    assert (url.type_name, url.host, url.port, url.database) == (
        type_name, host, port, database)
    assert url.raw == raw


def test_sqlite_path_is_the_absolute_file() -> None:
    url = parse_database_url("sqlite:////var/lib/app.db")
    assert str(url.file_path) == "/var/lib/app.db"
    assert url.file_path.is_absolute()


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("sqlite:///relative/app.db", "absolute"),
        ("sqlite:///app.db", "absolute"),
        ("sqlite://", "absolute"),
        ("sqlite:///:memory:", "absolute"),
        ("postgresql://u@db.example", "names no database"),
        ("postgresql://u@db.example/", "names no database"),
        ("mysql://root@127.0.0.1", "names no database"),
        ("mariadb://root@127.0.0.1/", "names no database"),
        ("postgresql:///app", "no host"),
        ("redis:///0", "no host"),
        ("oracle://u@db.example/app", "'oracle'"),
        ("mongodb://u@db.example/app", "'mongodb'"),
        ("not a url", "not a database URL"),
        ("", "not a database URL"),
    ],
)
def test_parse_refuses_what_cannot_be_served(raw: str, says: str) -> None:
    with pytest.raises(InvalidDatabaseUrl) as info:
        parse_database_url(raw)
    err = info.value
    assert says in err.detail
    assert err.fields["field"] == "url"
    assert err.to_dict()["code"] == "DBP-D201"


def test_unknown_scheme_lists_the_schemes_served() -> None:
    with pytest.raises(InvalidDatabaseUrl) as info:
        parse_database_url("oracle://u@db.example/app")
    for scheme in ("postgresql", "postgres", "mysql", "mariadb", "redis", "rediss", "sqlite"):
        assert scheme in info.value.detail


@pytest.mark.parametrize(
    "raw",
    [
        f"postgresql://u:{PASSWORD}@db.example",  # no database
        f"postgresql://u:{PASSWORD}@/app",  # no host
        f"oracle://u:{PASSWORD}@db.example/app",  # unknown scheme
        f"mysql://root:{PASSWORD}@127.0.0.1/",
    ],
)
def test_parse_errors_never_show_the_password(raw: str) -> None:
    with pytest.raises(InvalidDatabaseUrl) as info:
        parse_database_url(raw)
    assert PASSWORD not in str(info.value)
    assert PASSWORD not in repr(info.value.to_dict())


@pytest.mark.parametrize("raw", [
    f"postgresql://app:{PASSWORD}@db.example:5432/app",
    f"mysql://root:{PASSWORD}@127.0.0.1:3306/shop",
    f"redis://:{PASSWORD}@cache.example:6380/2",
])
def test_redact_url_hides_the_password_and_keeps_the_rest(raw: str) -> None:
    redacted = redact_url(raw)
    assert PASSWORD not in redacted
    assert redacted.split("@", 1)[1] == raw.split("@", 1)[1]
    assert redacted.split(":", 1)[0] == raw.split(":", 1)[0]


def test_redact_url_shows_three_stars() -> None:
    assert redact_url(f"postgresql://app:{PASSWORD}@db.example/app") == (
        "postgresql://app:***@db.example/app")


def test_redact_url_hides_a_password_in_the_query() -> None:
    redacted = redact_url(f"postgresql://app@db.example/app?password={PASSWORD}&sslmode=require")
    assert PASSWORD not in redacted
    assert "sslmode=require" in redacted
    assert "password=***" in redacted


def test_refused_sqlite_url_never_shows_the_password() -> None:
    with pytest.raises(InvalidDatabaseUrl) as info:
        parse_database_url(f"sqlite+pysqlcipher://:{PASSWORD}@/relative.db")
    assert PASSWORD not in repr(info.value.to_dict())


@pytest.mark.parametrize("raw", [
    "postgresql://app@db.example:5432/app",
    "mysql://root@127.0.0.1:3306/shop",
    "redis://cache.example:6380/2",
    "sqlite:////var/lib/app.db",
])
def test_redact_url_leaves_a_url_without_password_alone(raw: str) -> None:
    assert redact_url(raw) == raw


def test_redact_url_of_something_that_is_not_a_url() -> None:
    assert PASSWORD not in redact_url(f"nonsense://x:{PASSWORD}@ ?")


def test_redact_text_hides_every_password_in_a_message() -> None:
    message = (f"could not reach postgresql://app:{PASSWORD}@db.example:5432/app, "
               f"nor redis://:{PASSWORD}-2@cache.example/0; mysql://root@127.0.0.1/x is fine")
    redacted = redact_text(message)
    assert PASSWORD not in redacted
    assert redacted == ("could not reach postgresql://app:***@db.example:5432/app, "
                        "nor redis://:***@cache.example/0; mysql://root@127.0.0.1/x is fine")


def test_redact_text_leaves_plain_text_alone() -> None:
    text = "connection refused at 127.0.0.1:5432 (user app)"
    assert redact_text(text) == text
