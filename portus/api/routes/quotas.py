"""/v2/lbaas/quotas: per-project limits; PUT and DELETE answer 202 as Octavia does."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse

from portus.api.deps import context, list_params, services
from portus.api.schemas.quota import QuotaUpdateBody
from portus.service import quotas as uc
from portus.service.common import Services
from portus.service.listing import ListParams, select_fields
from portus.service.policy import RequestContext

router = APIRouter(tags=["quotas"])
BASE = "/lbaas/quotas"


@router.get(BASE)
def list_quotas(
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
    params: ListParams = Depends(list_params),
) -> JSONResponse:
    project = params.one("project_id") or params.one("tenant_id")
    with svc.db.read() as s:
        records = uc.list_records(s, ctx, project)
    items = [
        select_fields({"project_id": p, "tenant_id": p, **uc.with_aliases(limits)}, params.fields)
        for p, limits in records
    ]
    return JSONResponse({"quotas": items, "quotas_links": []})


@router.get(BASE + "/defaults")
def show_quota_defaults(
    svc: Services = Depends(services), ctx: RequestContext = Depends(context)
) -> JSONResponse:
    return JSONResponse({"quota": uc.with_aliases(uc.show_defaults(svc, ctx, None))})


@router.get(BASE + "/{project_id}")
def show_quota(
    project_id: str, svc: Services = Depends(services), ctx: RequestContext = Depends(context)
) -> JSONResponse:
    with svc.db.read() as s:
        limits = uc.show(svc, s, ctx, project_id)
    return JSONResponse({"quota": uc.with_aliases(limits)})


@router.get(BASE + "/{project_id}/default")
def show_project_quota_defaults(
    project_id: str, svc: Services = Depends(services), ctx: RequestContext = Depends(context)
) -> JSONResponse:
    return JSONResponse({"quota": uc.with_aliases(uc.show_defaults(svc, ctx, project_id))})


@router.put(BASE + "/{project_id}", status_code=202)
def update_quota(
    project_id: str,
    body: QuotaUpdateBody,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
) -> JSONResponse:
    with svc.db.session() as s:
        limits = uc.update(svc, s, ctx, project_id, body.quota.changes())
    return JSONResponse({"quota": uc.with_aliases(limits)}, status_code=202)


@router.delete(BASE + "/{project_id}", status_code=202)
def reset_quota(
    project_id: str, svc: Services = Depends(services), ctx: RequestContext = Depends(context)
) -> Response:
    with svc.db.session() as s:
        uc.reset(s, ctx, project_id)
    return Response(status_code=202)
