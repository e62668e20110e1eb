"""Structured logging: one JSON object per line, with secrets redacted.

Passwords inside URLs and bearer tokens are replaced before a record is written, whatever
logger it comes from (dbplane's, uvicorn's, SQLAlchemy's).
"""

from __future__ import annotations

import logging
import re
import sys
from datetime import UTC, datetime

import orjson

from dbplane.engines.urls import redact_text

__all__ = ["configure_logging", "redact"]

_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9_\-\.]+")
_TOKEN = re.compile(r"\bdb[ps]_[A-Za-z0-9_\-]{20,}")


def redact(text: str) -> str:
    """``text`` with URL passwords and dbplane tokens replaced by ``***``."""
    return _TOKEN.sub("dbp_***", _BEARER.sub(r"\1***", redact_text(text)))


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg, record.args = redact(message), None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_text:
            entry["exception"] = record.exc_text
        return orjson.dumps(entry).decode()


def configure_logging(level: str = "INFO", json: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter() if json else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
