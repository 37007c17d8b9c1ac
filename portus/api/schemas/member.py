"""Member bodies (single, batch) and the parser the fully populated LB create uses."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, ValidationError

from portus.api.errors import validation_message
from portus.api.schemas.common import Body, IdRef, IPAddress, Name, Port, ProjectId, Tag
from portus.service import graph
from portus.service.errors import ApiError

Weight = Field(default=None, ge=0, le=256)


def parse_body(model: type[BaseModel], raw: Any, arg: str) -> dict[str, Any]:
    """Validate a nested dict with ``model``: the fields sent (recursively), or Octavia's 400."""
    try:
        return model.model_validate(raw).model_dump(exclude_unset=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        err: dict[str, Any] = {**first, "loc": (arg, *first["loc"])}
        raise ApiError(validation_message(err)) from None


class MemberCreate(Body):
    name: Name | None = None
    admin_state_up: bool | None = True
    project_id: ProjectId | None = None
    tenant_id: ProjectId | None = None
    address: IPAddress
    protocol_port: Port
    subnet_id: IdRef | None = None
    weight: int | None = Weight
    backup: bool | None = False
    monitor_address: IPAddress | None = None
    monitor_port: Port | None = None
    request_sriov: bool | None = False
    tags: list[Tag] | None = None


class MemberUpdate(Body):
    name: Name | None = None
    admin_state_up: bool | None = None
    weight: int | None = Weight
    backup: bool | None = None
    monitor_address: IPAddress | None = None
    monitor_port: Port | None = None
    tags: list[Tag] | None = None


class MemberCreateBody(Body):
    member: MemberCreate


class MemberUpdateBody(Body):
    member: MemberUpdate


class MemberBatchBody(Body):
    members: list[MemberCreate]


graph.register_parser("member", lambda raw: parse_body(MemberCreate, raw, "member"))
