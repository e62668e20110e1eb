"""Request body bounds: Starlette's body limit answers a declared ``Content-Length`` past
the bound with a plain-text 413 of its own; this turns that answer into dbplane's
problem document naming the limit (a body cut while streaming already reaches the app's
error handlers as ``BodyTooLarge``)."""

from __future__ import annotations

import orjson
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY
from starlette.types import Message, Scope, Send

from dbplane.api.errors import PROBLEM_TYPE, directus_path
from dbplane.errors import BodyTooLarge

__all__ = ["problem_on_413"]


def too_large(limit: object) -> BodyTooLarge:
    return BodyTooLarge(f"the request body is larger than the {limit} bytes this endpoint "
                        "accepts; nothing was done", limit=limit)


def problem_on_413(scope: Scope, send: Send) -> Send:
    """``send``, with a plain-text 413 replaced by the problem document."""
    replaced = False

    async def wrapped(message: Message) -> None:
        nonlocal replaced
        if message["type"] == "http.response.start" and message["status"] == 413:
            headers = dict(message.get("headers", []))
            if headers.get(b"content-type", b"").startswith(b"text/plain"):
                replaced = True
                body = too_large(scope.get(MAX_BODY_SIZE_SCOPE_KEY)).to_dict()
                ctype = PROBLEM_TYPE
                if directus_path(scope.get("path", "")):
                    ctype = "application/json"
                    body["errors"] = [{"message": body["detail"],
                                       "extensions": {"code": body["code"]}}]
                encoded = orjson.dumps(body)
                await send({"type": "http.response.start", "status": 413, "headers": [
                    (b"content-type", ctype.encode()),
                    (b"content-length", str(len(encoded)).encode())]})
                await send({"type": "http.response.body", "body": encoded})
                return
        if replaced:
            return
        await send(message)

    return wrapped
