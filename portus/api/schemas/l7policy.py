"""L7 policy bodies.

``L7PolicyCreate`` serves the POST (``listener_id`` checked by the route) and, without
``listener_id``, a graph create; ``L7PolicySingleCreate`` additionally accepts ``redirect_pool``
(a pool defined inline in a fully populated LB create, resolved by the graph code).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field

from portus.api.schemas.common import Body, Description, IdRef, Name, ProjectId, Tag
from portus.api.schemas.l7rule import L7RuleCreate

Action = Literal["REJECT", "REDIRECT_TO_URL", "REDIRECT_TO_POOL", "REDIRECT_PREFIX"]
RedirectCode = Literal[301, 302, 303, 307, 308]
Position = Annotated[int, Field(ge=1, le=2147483647)]


def _url(value: str) -> str:
    parts = urlsplit(value)
    bad_char = any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value)
    if parts.scheme not in ("http", "https") or not parts.netloc or bad_char:
        raise ValueError(f"Not a valid URL: {value}")
    return value


Url = Annotated[str, Field(max_length=2048), AfterValidator(_url)]


class _L7PolicyFields(Body):
    name: Name | None = None
    description: Description | None = None
    admin_state_up: bool | None = True
    action: Action
    redirect_pool_id: IdRef | None = None
    redirect_url: Url | None = None
    redirect_prefix: Url | None = None
    redirect_http_code: RedirectCode | None = None
    position: Position | None = None
    rules: list[L7RuleCreate] | None = None
    tags: list[Tag] | None = None
    project_id: ProjectId | None = None
    tenant_id: ProjectId | None = None


class L7PolicyCreate(_L7PolicyFields):
    listener_id: IdRef | None = None


class L7PolicySingleCreate(_L7PolicyFields):
    redirect_pool: dict[str, Any] | None = None


class L7PolicyUpdate(Body):
    name: Name | None = None
    description: Description | None = None
    admin_state_up: bool | None = None
    action: Action | None = None
    redirect_pool_id: IdRef | None = None
    redirect_url: Url | None = None
    redirect_prefix: Url | None = None
    redirect_http_code: RedirectCode | None = None
    position: Position | None = None
    tags: list[Tag] | None = None


class L7PolicyCreateBody(Body):
    l7policy: L7PolicyCreate


class L7PolicyUpdateBody(Body):
    l7policy: L7PolicyUpdate
