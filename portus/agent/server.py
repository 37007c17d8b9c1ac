"""``portus agent``: the agent's HTTPS API, mutual TLS only.

Controllers on other hosts drive amphorae through this API (the remote driver in
``portus.drivers.remote``). Every request must present a client certificate issued by
Portus' CA; the TLS layer refuses anything else before HTTP is spoken.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from fastapi import Body, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from portus.agent import pki, wire
from portus.agent.agent import Agent
from portus.agent.errors import AgentError, AlreadyExists, NotFound
from portus.config import Settings

DEFAULT_AGENT_BIND = "127.0.0.1:9443"


def create_app(agent: Agent) -> FastAPI:
    app = FastAPI(title="Portus agent", docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(NotFound)
    def not_found(_: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=404)

    @app.exception_handler(AlreadyExists)
    def conflict(_: Request, exc: AlreadyExists) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=409)

    @app.exception_handler(AgentError)
    def failed(_: Request, exc: AgentError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=500)

    @app.get("/v1/health")
    def health() -> dict[str, Any]:
        return {"ok": True, "amphorae": len(agent.list_amphorae())}

    @app.get("/v1/amphorae")
    def list_amphorae() -> list[dict[str, Any]]:
        return [wire.to_dict(i) for i in agent.list_amphorae()]

    @app.post("/v1/amphorae", status_code=201)
    def create(body: dict[str, Any] = Body(...)) -> dict[str, Any]:
        return wire.to_dict(agent.create_amphora(wire.spec_from_dict(body)))

    @app.delete("/v1/amphorae/{amphora_id}", status_code=204)
    def delete(amphora_id: str) -> Response:
        agent.delete_amphora(amphora_id)
        return Response(status_code=204)

    @app.put("/v1/amphorae/{amphora_id}/files")
    def apply(amphora_id: str, body: dict[str, Any] = Body(...)) -> dict[str, Any]:
        return wire.to_dict(agent.apply(amphora_id, wire.files_from_dict(body)))

    @app.get("/v1/amphorae/{amphora_id}/status")
    def status(amphora_id: str) -> dict[str, Any]:
        return wire.to_dict(agent.status(amphora_id))

    return app


def make_server(
    agent: Agent,
    host: str,
    port: int,
    *,
    certfile: Path,
    keyfile: Path,
    cafile: Path,
    log_level: str = "warning",
) -> Any:
    """A uvicorn server requiring client certificates from ``cafile``'s CA (not started)."""
    import uvicorn

    config = uvicorn.Config(
        create_app(agent),
        host=host,
        port=port,
        ssl_certfile=str(certfile),
        ssl_keyfile=str(keyfile),
        ssl_ca_certs=str(cafile),
        ssl_cert_reqs=ssl.CERT_REQUIRED,
        log_level=log_level,
    )
    return uvicorn.Server(config)


def serve(
    settings: Settings,
    *,
    bind: str = DEFAULT_AGENT_BIND,
    pki_dir: Path | None = None,
) -> None:
    """Run the agent API until interrupted; creates the CA and certificates on first start."""
    host, _, port = bind.rpartition(":")
    host = host.strip("[]")
    paths = pki.ensure_pki(pki_dir or settings.state_dir / "pki", (host, "localhost"))
    agent = Agent(settings.state_dir / "agent")
    server = make_server(
        agent,
        host,
        int(port),
        certfile=paths.server_cert,
        keyfile=paths.server_key,
        cafile=paths.ca_cert,
        log_level=settings.log_level,
    )
    server.run()
