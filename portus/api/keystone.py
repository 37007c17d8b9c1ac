"""Keystone authentication through keystonemiddleware's ``auth_token``.

keystonemiddleware is WSGI; Portus is ASGI. Rather than re-implement token validation, each
request's identity headers go through a real ``AuthProtocol`` (token cache, revocation, service
catalog handling and all) wrapped around a tiny WSGI app that only captures the identity it
produced. That runs in a worker thread, so the event loop never blocks on Keystone.
"""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response
from starlette.types import Scope

from portus.api.edge import Authenticate
from portus.config import Settings
from portus.service.errors import fault_body
from portus.service.policy import RequestContext

# Paths a client needs before it has a token (version discovery, health).
PUBLIC_PATHS = frozenset({"/", "/healthcheck", "/openapi.json", "/docs"})

# keystonemiddleware's own identity headers; never trusted from the client.
IDENTITY_HEADERS = (
    "x-identity-status",
    "x-project-id",
    "x-tenant-id",
    "x-roles",
    "x-user-id",
    "x-domain-id",
    "x-service-roles",
    "x-is-admin-project",
)


def _capture(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    environ["portus.identity"] = {
        "status": environ.get("HTTP_X_IDENTITY_STATUS"),
        "project_id": environ.get("HTTP_X_PROJECT_ID"),
        "roles": environ.get("HTTP_X_ROLES", ""),
        "user_id": environ.get("HTTP_X_USER_ID"),
    }
    start_response("204 No Content", [])
    return []


def middleware_conf(settings: Settings) -> dict[str, Any]:
    conf: dict[str, Any] = {
        "delay_auth_decision": "false",
        "include_service_catalog": "false",
        "service_token_roles_required": "false",
    }
    if settings.keystone_auth_url:
        conf["www_authenticate_uri"] = settings.keystone_auth_url
        conf["auth_url"] = settings.keystone_auth_url
    conf.update(settings.keystone_config)
    return conf


def keystone(settings: Settings) -> Authenticate:
    from keystonemiddleware import auth_token

    protocol = auth_token.AuthProtocol(_capture, middleware_conf(settings))

    def validate(token: str | None, path: str) -> tuple[dict[str, Any] | None, int]:
        environ: dict[str, Any] = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": path,
            "SERVER_NAME": "portus",
            "SERVER_PORT": "80",
            "wsgi.url_scheme": "http",
        }
        if token:
            environ["HTTP_X_AUTH_TOKEN"] = token
        status: list[str] = []

        def start_response(code: str, _headers: Any, _exc: Any = None) -> None:
            status.append(code)

        body = protocol(environ, start_response)
        for _ in body:
            pass
        code = int(status[0].split()[0]) if status else 500
        return environ.get("portus.identity"), code

    async def authenticate(scope: Scope, headers: Headers) -> RequestContext | Response:
        path = scope["path"]
        if path in PUBLIC_PATHS:
            return RequestContext(project_id=None, roles=frozenset(), auth_enabled=True)
        scope["headers"] = [
            (k, v) for k, v in scope["headers"] if k.decode().lower() not in IDENTITY_HEADERS
        ]
        identity, code = await to_thread.run_sync(validate, headers.get("x-auth-token"), path)
        if identity is None or identity.get("status") != "Confirmed":
            return JSONResponse(
                fault_body(401, "Authentication required"),
                status_code=401 if code in (204, 401) else code,
                headers={"WWW-Authenticate": f"Keystone uri='{settings.keystone_auth_url}'"},
            )
        roles = frozenset(r.strip() for r in identity["roles"].split(",") if r.strip())
        return RequestContext(
            project_id=identity["project_id"],
            roles=roles,
            user_id=identity["user_id"],
            auth_enabled=True,
        )

    return authenticate
