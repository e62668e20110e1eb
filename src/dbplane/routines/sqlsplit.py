"""Split a SQL script into statements at top-level semicolons.

A semicolon inside a string (``'...'`` with ``''`` escapes, and ``\\'`` on MySQL), a quoted
identifier (``"..."``, ```...```), a dollar-quoted body (``$$...$$``, ``$tag$...$tag$``)
or a comment (``-- ...``, ``# ...`` on MySQL, ``/* ... */``) does not end a statement.
Comments before a statement are dropped, and so are statements that hold nothing
but comments and blanks.
"""

from __future__ import annotations

import re

__all__ = ["split_statements"]

_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z_0-9]*)?\$")


def _skip_comments(sql: str, mysql: bool) -> int:
    """The index of the first character that is neither blank nor in a comment."""
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c.isspace():
            i += 1
        elif sql.startswith("--", i) or (mysql and c == "#"):
            j = sql.find("\n", i)
            i = n if j < 0 else j + 1
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            i = n if j < 0 else j + 2
        else:
            return i
    return n


def split_statements(sql: str, dialect: str | None = None) -> list[str]:
    """The statements of ``sql``, stripped, without their terminating semicolons.

    ``dialect`` ``mysql`` also reads backslash escapes in strings and ``#`` comments;
    dollar quotes are read for every dialect but MySQL (where ``$`` may start a name)."""
    mysql = dialect == "mysql"
    out: list[str] = []
    start = 0
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c in ("'", '"', "`"):
            j = i + 1
            while j < n:
                if mysql and sql[j] == "\\" and c != "`":
                    j += 2
                    continue
                if sql[j] == c:
                    if j + 1 < n and sql[j + 1] == c:  # doubled quote: an escape
                        j += 2
                        continue
                    break
                j += 1
            i = j + 1
        elif sql.startswith("--", i) or (mysql and c == "#"):
            j = sql.find("\n", i)
            i = n if j < 0 else j + 1
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif c == "$" and not mysql and (i == 0 or not (sql[i - 1].isalnum()
                                                        or sql[i - 1] == "_")):
            m = _DOLLAR_TAG.match(sql, i)
            if m is None:
                i += 1
                continue
            tag = m.group(0)
            j = sql.find(tag, m.end())
            i = n if j < 0 else j + len(tag)
        elif c == ";":
            _add(out, sql[start:i], mysql)
            i += 1
            start = i
        else:
            i += 1
    _add(out, sql[start:], mysql)
    return out


def _add(out: list[str], statement: str, mysql: bool) -> None:
    statement = statement[_skip_comments(statement, mysql):].strip()
    if statement:
        out.append(statement)
