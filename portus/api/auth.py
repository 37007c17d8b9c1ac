"""Who is calling: ``noauth`` (one admin context) or Keystone tokens (keystonemiddleware).

Both end in a RequestContext on ``request.state.ctx``; nothing below the API knows which
strategy produced it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request, Response

from portus.config import Settings
from portus.service.policy import RequestContext

UNAUTHENTICATED_PATHS = ("/", "/healthcheck", "/openapi.json", "/docs")


def noauth_context(request: Request, settings: Settings) -> RequestContext:
    """Everyone is admin; the project is the caller's X-Project-Id or the configured default."""
    project = request.headers.get("x-project-id") or settings.default_project_id
    roles = request.headers.get("x-roles")
    role_set = frozenset(r.strip() for r in roles.split(",")) if roles else frozenset({"admin"})
    return RequestContext(project_id=project, roles=role_set, auth_enabled=False)


def noauth_middleware(
    settings: Settings,
) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    async def middleware(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        request.state.ctx = noauth_context(request, settings)
        return await call_next(request)

    return middleware
