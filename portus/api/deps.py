"""Request-scoped helpers shared by every route module.

The dependencies are ``async def`` on purpose: FastAPI runs a plain ``def`` dependency in the
thread pool, and three thread hops per request cost more than a small list call.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import JSONResponse

from portus.service.common import Services
from portus.service.listing import ListParams
from portus.service.policy import RequestContext


async def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


async def context(request: Request) -> RequestContext:
    ctx: RequestContext = request.state.ctx
    return ctx


async def list_params(request: Request) -> ListParams:
    return ListParams.from_pairs(list(request.query_params.multi_items()))


def collection_url(request: Request) -> str:
    """The request URL without query, as pagination links need it."""
    url = request.url
    return f"{url.scheme}://{url.netloc}{url.path}"


def ts(value: datetime | str | None) -> str | None:
    """ISO-8601 without zone or fraction, as Octavia prints it (from a datetime, or from the
    database's text form ``2026-11-25 11:43:46[.000000]``)."""
    if not value:
        return None
    if isinstance(value, str):
        return value[:19].replace(" ", "T")
    return value.replace(microsecond=0).isoformat()


def json_list(value: Any) -> list[Any]:
    """A JSON list column, whether the row carries it decoded or as text."""
    if isinstance(value, str):
        return [] if value in ("[]", "null") else list(orjson.loads(value) or [])
    return list(value or [])


class FastJSONResponse(JSONResponse):
    """orjson: list calls spend much of their time encoding."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


# The filterable columns every status-carrying resource has, first in its COLUMNS.
STATUS_RESOURCE_COLUMNS = (
    "id",
    "name",
    "description",
    "admin_state_up",
    "project_id",
    "provisioning_status",
    "operating_status",
)


def ids(items: Any) -> list[dict[str, str]]:
    return [{"id": item.id} for item in items]


def owner_fields(obj: Any) -> dict[str, Any]:
    """project_id, and tenant_id echoed beside it (clients pop it)."""
    return {"project_id": obj.project_id, "tenant_id": obj.project_id}


def status_fields(obj: Any) -> dict[str, Any]:
    return {
        "provisioning_status": obj.provisioning_status,
        "operating_status": obj.operating_status,
        "created_at": ts(obj.created_at),
        "updated_at": ts(obj.updated_at),
    }
