"""The one ASGI middleware in front of every route: URL and header quirks, JSON-only, identity.

Plain ASGI (not ``@app.middleware("http")``) because it runs on every request and the
request/response wrapping of Starlette's HTTP middleware costs more than the list call it guards.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from portus.service.policy import RequestContext

# Returns the caller's context, or a ready response (401) when authentication fails.
Authenticate = Callable[[Scope, Headers], Awaitable[RequestContext | Response]]

NOT_ACCEPTABLE = {
    "code": 406,
    "title": "Not Acceptable",
    "description": "Only content type application/json is accepted.",
}


def accepts_json(accept: str) -> bool:
    if not accept.strip():
        return True
    for part in accept.split(","):
        media = part.split(";")[0].strip().lower()
        if media in ("*/*", "application/*", "application/json", "") or media.endswith("+json"):
            return True
    return False


class Edge:
    def __init__(self, app: ASGIApp, authenticate: Authenticate) -> None:
        self.app = app
        self.authenticate = authenticate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope = dict(scope)
        path = scope["path"]
        if path.endswith(".json") and path != "/openapi.json":
            # Octavia accepts a ``.json`` suffix on any URL.
            scope["path"] = path[: -len(".json")]
            scope["raw_path"] = scope["path"].encode()
        headers = Headers(scope=scope)
        # The key manager also serves raw secret payloads (Accept: text/plain, octet-stream).
        key_manager = path.startswith("/key-manager")
        if "content-type" not in headers and not key_manager:
            # Octavia reads every body as JSON, whatever the client declared.
            scope["headers"] = [*scope["headers"], (b"content-type", b"application/json")]
        if not key_manager and not accepts_json(headers.get("accept", "")):
            await JSONResponse(NOT_ACCEPTABLE, status_code=406)(scope, receive, send)
            return
        outcome = await self.authenticate(scope, headers)
        if isinstance(outcome, Response):
            await outcome(scope, receive, send)
            return
        scope.setdefault("state", {})["ctx"] = outcome
        await self.app(scope, receive, send)
