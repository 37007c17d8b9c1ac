"""Who is calling: ``noauth`` (one admin context) or Keystone tokens (keystonemiddleware).

Both end in a RequestContext on ``request.state.ctx``; nothing below the API knows which
strategy produced it.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import Scope

from portus.api.edge import Authenticate
from portus.config import Settings
from portus.service.policy import RequestContext


def noauth(settings: Settings) -> Authenticate:
    """Everyone is admin; the project is the caller's X-Project-Id or the configured default.

    An ``X-Roles`` header narrows the roles, so policy can be exercised without Keystone.
    """

    async def authenticate(_scope: Scope, headers: Headers) -> RequestContext | Response:
        project = headers.get("x-project-id") or settings.default_project_id
        roles = headers.get("x-roles")
        role_set = (
            frozenset(r.strip() for r in roles.split(",") if r.strip())
            if roles
            else frozenset({"admin"})
        )
        return RequestContext(project_id=project, roles=role_set, auth_enabled=False)

    return authenticate


def for_settings(settings: Settings) -> Authenticate:
    if settings.auth_strategy == "keystone":
        from portus.api.keystone import keystone

        return keystone(settings)
    return noauth(settings)
