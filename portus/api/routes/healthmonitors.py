"""/v2/lbaas/healthmonitors: HTTP in, use case call, Octavia-shaped JSON out."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from portus import constants as c
from portus.api.deps import (
    collection_url,
    context,
    list_params,
    owner_fields,
    services,
    status_fields,
)
from portus.api.schemas.healthmonitor import HealthMonitorCreateBody, HealthMonitorUpdateBody
from portus.db.models import HealthMonitor
from portus.service import healthmonitors as uc
from portus.service.common import Services, tags_of
from portus.service.listing import ListParams, paginate, scoped, select_fields
from portus.service.policy import RequestContext

router = APIRouter(tags=["healthmonitors"])
BASE = "/lbaas/healthmonitors"

COLUMNS = {
    name: getattr(HealthMonitor, name)
    for name in (
        "id",
        "name",
        "admin_state_up",
        "project_id",
        "pool_id",
        "type",
        "delay",
        "timeout",
        "max_retries",
        "max_retries_down",
        "http_method",
        "url_path",
        "expected_codes",
        "http_version",
        "domain_name",
        "provisioning_status",
        "operating_status",
        "created_at",
        "updated_at",
    )
}
COLUMNS["tenant_id"] = HealthMonitor.project_id


def view(hm: HealthMonitor, tags: list[str]) -> dict[str, Any]:
    return {
        "id": hm.id,
        "name": hm.name or "",
        "type": hm.type,
        "delay": hm.delay,
        "timeout": hm.timeout,
        "max_retries": hm.max_retries,
        "max_retries_down": hm.max_retries_down,
        "http_method": hm.http_method,
        "url_path": hm.url_path,
        "expected_codes": hm.expected_codes,
        "http_version": hm.http_version,
        "domain_name": hm.domain_name,
        "admin_state_up": hm.admin_state_up,
        **owner_fields(hm),
        "pools": [{"id": hm.pool_id}],
        **status_fields(hm),
        "tags": tags,
    }


def render_one(session: Session, hm: HealthMonitor) -> dict[str, Any]:
    return view(hm, tags_of(session, [hm.id]).get(hm.id, []))


@router.get(BASE)
def list_healthmonitors(
    request: Request,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
    params: ListParams = Depends(list_params),
) -> JSONResponse:
    with svc.db.read() as s:
        stmt = select(HealthMonitor).where(HealthMonitor.provisioning_status != c.DELETED)
        if not ctx.can_read_all:
            ctx.require_read(ctx.project_id)
        stmt = scoped(stmt, HealthMonitor, ctx.project_id, ctx.can_read_all)
        page = paginate(
            s,
            stmt,
            HealthMonitor,
            params,
            columns=COLUMNS,
            base_url=collection_url(request),
            max_limit=svc.settings.pagination_max_limit,
        )
        tags = tags_of(s, [hm.id for hm in page.rows])
        items = [select_fields(view(hm, tags.get(hm.id, [])), params.fields) for hm in page.rows]
    return JSONResponse({"healthmonitors": items, "healthmonitors_links": page.links})


@router.post(BASE, status_code=201)
def create_healthmonitor(
    body: HealthMonitorCreateBody,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
) -> JSONResponse:
    with svc.db.session() as s:
        hm = uc.create(svc, s, ctx, body.healthmonitor.given())
        result = render_one(s, hm)
    svc.notify()
    return JSONResponse({"healthmonitor": result}, status_code=201)


@router.get(BASE + "/{hm_id}")
def show_healthmonitor(
    hm_id: str,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
    params: ListParams = Depends(list_params),
) -> JSONResponse:
    with svc.db.read() as s:
        result = select_fields(render_one(s, uc.get(s, ctx, hm_id)), params.fields)
    return JSONResponse({"healthmonitor": result})


@router.put(BASE + "/{hm_id}")
def update_healthmonitor(
    hm_id: str,
    body: HealthMonitorUpdateBody,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
) -> JSONResponse:
    with svc.db.session() as s:
        hm = uc.update(svc, s, ctx, hm_id, body.healthmonitor.given())
        s.flush()
        result = render_one(s, hm)
    svc.notify()
    return JSONResponse({"healthmonitor": result})


@router.delete(BASE + "/{hm_id}", status_code=204)
def delete_healthmonitor(
    hm_id: str, svc: Services = Depends(services), ctx: RequestContext = Depends(context)
) -> Response:
    with svc.db.session() as s:
        uc.delete(svc, s, ctx, hm_id)
    svc.notify()
    return Response(status_code=204)
