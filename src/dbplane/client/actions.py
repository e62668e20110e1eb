"""``db.action(name, params)`` (issue 7): the Scalingo database actions.

The server answers ``{"ok": 1, "result": ...}``, or ``{"ok": 0, "error": "...", "code":
"DBP-..."}`` with a 4xx: that is not a problem-details body, so the error the HTTP layer
raises is rebuilt here with the server's message as its detail.
"""

from __future__ import annotations

from typing import Any

from dbplane.client._http import AsyncHttp, SyncHttp, as_object, path
from dbplane.errors import DbplaneError, error_class_for_code

__all__ = ["action", "async_action"]


def _body(name: str, params: dict[str, Any] | str | None) -> dict[str, Any]:
    return {"action_name": name, "params": params}


def _result(answer: Any) -> Any:
    body = as_object(answer)
    if body.get("ok") != 1:
        raise DbplaneError(str(body.get("error") or "the action failed"))
    return body.get("result")


def _rebuilt(err: DbplaneError) -> DbplaneError:
    """The error of an ``{"ok": 0, ...}`` answer, as the class of its ``code``."""
    if "error" not in err.fields or "ok" not in err.fields:
        return err  # a problem-details answer (401, 403): already the right error
    code = str(err.fields.get("code") or err.code)
    cls = error_class_for_code(code)
    rest = {k: v for k, v in err.fields.items() if k not in ("ok", "error", "code")}
    again = cls.from_problem({"detail": str(err.fields["error"]), "code": code, **rest})
    if cls.code != code:
        again.fields["code"] = code  # a code this client does not know: keep it
    again.status_code = err.status_code
    return again


def action(http: SyncHttp, ref: str, name: str,
           params: dict[str, Any] | str | None = None) -> Any:
    """Run the action ``name`` on the database ``ref`` and answer its ``result``.

    ``params`` is an object for most actions, a string for ``set-sqlmode``, None for the
    actions without params. Raises the error class of the server's ``code``: UnknownAction,
    ActionNotSupported, InvalidActionParams, ProtectedLogicalDatabase…"""
    try:
        answer = http.request("POST", path("databases", ref, "action"),
                              json=_body(name, params))
    except DbplaneError as err:
        raise _rebuilt(err) from None
    return _result(answer)


async def async_action(http: AsyncHttp, ref: str, name: str,
                       params: dict[str, Any] | str | None = None) -> Any:
    """As :func:`action`, on the async client."""
    try:
        answer = await http.request("POST", path("databases", ref, "action"),
                                    json=_body(name, params))
    except DbplaneError as err:
        raise _rebuilt(err) from None
    return _result(answer)
