"""The ASGI app: version discovery, the v2 tree under /v2 and /v2.0, errors, auth, JSON only."""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from portus import constants as c
from portus.api import auth, errors
from portus.api.edge import Edge
from portus.api.readcache import ReadCache
from portus.api.routes import ROUTERS, barbican, identity
from portus.service.common import Services

VERSION_DATES = {
    "v2.0": "2016-12-11T00:00:00Z",
    "v2.30": "2025-02-26T00:00:00Z",
}


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

    @app.get("/", include_in_schema=False)
    async def root(request: Request) -> JSONResponse:
        return JSONResponse(versions(request))

    for prefix in ("/v2", "/v2.0"):
        for router in ROUTERS:
            app.include_router(router, prefix=prefix, include_in_schema=prefix == "/v2")

        @app.get(prefix, include_in_schema=False)
        @app.get(prefix + "/lbaas", include_in_schema=False)
        @app.get(prefix + "/octavia", include_in_schema=False)
        def v2_root() -> JSONResponse:
            return JSONResponse("v2")

    app.include_router(identity.router)
    barbican.install(app)

    @app.get("/healthcheck", include_in_schema=False)
    def healthcheck() -> Response:
        return Response("OK", media_type="text/plain")

    # Inside Edge (added first = runs after it): the cache keys on the caller Edge resolved.
    if svc.settings.read_cache:
        app.add_middleware(ReadCache, revision=svc.db.revision)
    app.add_middleware(Edge, authenticate=auth.for_settings(svc.settings))
    return app
