"""Log lines never carry a password or a token."""

from __future__ import annotations

import io
import logging

import orjson
import pytest

from dbplane.logs import JsonFormatter, RedactingFilter, configure_logging, redact

SECRET = "S3cret-pw-XYZ"
TOKEN = "dbp_" + "A1b2C3d4" * 5


@pytest.mark.parametrize("text", [
    f"connecting to postgresql://app:{SECRET}@db:5432/app",
    f"Authorization: Bearer {TOKEN}",
    f"token {TOKEN} revoked",
    f"redis://:{SECRET}@cache:6379/0 is down",
])
def test_redact_hides_secrets(text: str) -> None:
    redacted = redact(text)
    assert SECRET not in redacted
    assert TOKEN not in redacted


def test_a_log_record_and_its_traceback_are_redacted() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("dbplane.test.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            raise RuntimeError(f"cannot reach mysql://root:{SECRET}@db/shop")
        except RuntimeError:
            logger.exception("registering %s failed",
                             f"mysql://root:{SECRET}@db/shop with {TOKEN}")
    finally:
        logger.removeHandler(handler)
    line = stream.getvalue().strip()
    assert SECRET not in line and TOKEN not in line
    entry = orjson.loads(line)
    assert entry["level"] == "error"
    assert "mysql://root:***@db/shop" in entry["message"]
    assert "RuntimeError" in entry["exception"]


def test_configure_logging_routes_uvicorn_through_the_redacting_handler() -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("INFO", json=True)
        (handler,) = root.handlers
        assert any(isinstance(f, RedactingFilter) for f in handler.filters)
        assert logging.getLogger("uvicorn.error").propagate is True
        assert logging.getLogger("uvicorn.error").handlers == []
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
