"""The ASGI app: version discovery, the v2 tree under /v2 and /v2.0, errors, auth, JSON only."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from portus import constants as c
from portus.api import errors
from portus.api.auth import noauth_middleware
from portus.api.routes import ROUTERS
from portus.service.common import Services

VERSION_DATES = {
    "v2.0": "2016-12-11T00:00:00Z",
    "v2.30": "2025-02-26T00:00:00Z",
}


class JsonSuffix:
    """Octavia accepts ``.json`` at the end of any URL and JSON bodies without a content type."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            if path.endswith(".json") and path != "/openapi.json":
                scope = dict(scope)
                scope["path"] = path[: -len(".json")]
                scope["raw_path"] = scope["path"].encode()
            headers = scope.get("headers") or []
            if not any(k == b"content-type" for k, _ in headers):
                # Octavia reads every body as JSON, whatever the client declared.
                scope = dict(scope)
                scope["headers"] = [*headers, (b"content-type", b"application/json")]
        await self.app(scope, receive, send)


def _accepts_json(accept: str) -> bool:
    if not accept.strip():
        return True
    for part in accept.split(","):
        media = part.split(";")[0].strip().lower()
        if media in ("*/*", "application/*", "application/json", "") or media.endswith("+json"):
            return True
    return False


def versions(request: Request) -> dict[str, object]:
    base = str(request.base_url).rstrip("/") + "/v2"
    out = []
    for i, version in enumerate(c.API_VERSIONS):
        out.append(
            {
                "id": version,
                "status": "CURRENT" if i == len(c.API_VERSIONS) - 1 else "SUPPORTED",
                "updated": VERSION_DATES.get(version, "2024-01-01T00:00:00Z"),
                "links": [{"href": base, "rel": "self"}],
            }
        )
    return {"versions": out}


def create_app(svc: Services) -> FastAPI:
    app = FastAPI(
        title="Portus",
        version="2.30",
        description="Load balancing as a service; the OpenStack Octavia v2 API.",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.services = svc
    errors.install(app)

    @app.middleware("http")
    async def json_only(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if not _accepts_json(request.headers.get("accept", "")):
            return JSONResponse(
                {
                    "code": 406,
                    "title": "Not Acceptable",
                    "description": "Only content type application/json is accepted.",
                },
                status_code=406,
            )
        return await call_next(request)

    app.middleware("http")(noauth_middleware(svc.settings))

    @app.get("/", include_in_schema=False)
    def root(request: Request) -> JSONResponse:
        return JSONResponse(versions(request))

    for prefix in ("/v2", "/v2.0"):
        for router in ROUTERS:
            app.include_router(router, prefix=prefix, include_in_schema=prefix == "/v2")

        @app.get(prefix, include_in_schema=False)
        @app.get(prefix + "/lbaas", include_in_schema=False)
        @app.get(prefix + "/octavia", include_in_schema=False)
        def v2_root() -> JSONResponse:
            return JSONResponse("v2")

    @app.get("/healthcheck", include_in_schema=False)
    def healthcheck() -> Response:
        return Response("OK", media_type="text/plain")

    app.add_middleware(JsonSuffix)
    return app
