"""/v2/octavia/amphorae: the admin view of amphorae (list, show, stats, config, failover)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select

from portus import constants as c
from portus.api.deps import collection_url, context, list_params, services, ts
from portus.db.models import Amphora, LoadBalancer
from portus.service import amphorae as uc
from portus.service.common import Services
from portus.service.listing import ListParams, paginate, select_fields
from portus.service.policy import RequestContext

router = APIRouter(tags=["amphorae"])
BASE = "/octavia/amphorae"

FIELDS = (
    "id",
    "compute_id",
    "lb_network_ip",
    "vrrp_ip",
    "ha_ip",
    "vrrp_port_id",
    "ha_port_id",
    "cert_expiration",
    "cert_busy",
    "role",
    "status",
    "vrrp_interface",
    "vrrp_id",
    "vrrp_priority",
    "cached_zone",
    "created_at",
    "updated_at",
    "image_id",
    "compute_flavor",
)
COLUMNS = {name: getattr(Amphora, name) for name in FIELDS}
COLUMNS["loadbalancer_id"] = Amphora.load_balancer_id


def _in_project(raw: str) -> Any:
    return Amphora.load_balancer_id.in_(
        select(LoadBalancer.id).where(LoadBalancer.project_id == raw)
    )


EXTRA_FILTERS = {"project_id": _in_project}


def view(amp: Amphora) -> dict[str, Any]:
    out: dict[str, Any] = {name: getattr(amp, name) for name in FIELDS}
    for name in ("cert_expiration", "created_at", "updated_at"):
        out[name] = ts(out[name])
    out["loadbalancer_id"] = amp.load_balancer_id
    return out


@router.get(BASE)
def list_amphorae(
    request: Request,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
    params: ListParams = Depends(list_params),
) -> JSONResponse:
    ctx.require_admin()
    with svc.db.read() as s:
        page = paginate(
            s,
            select(Amphora).where(Amphora.status != c.DELETED),
            Amphora,
            params,
            columns=COLUMNS,
            base_url=collection_url(request),
            max_limit=svc.settings.pagination_max_limit,
            extra_filters=EXTRA_FILTERS,
        )
        items = [select_fields(view(amp), params.fields) for amp in page.rows]
    return JSONResponse({"amphorae": items, "amphorae_links": page.links})


@router.get(BASE + "/{amphora_id}")
def show_amphora(
    amphora_id: str,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
    params: ListParams = Depends(list_params),
) -> JSONResponse:
    with svc.db.read() as s:
        result = select_fields(view(uc.get(s, ctx, amphora_id)), params.fields)
    return JSONResponse({"amphora": result})


@router.get(BASE + "/{amphora_id}/stats")
def amphora_stats(
    amphora_id: str, svc: Services = Depends(services), ctx: RequestContext = Depends(context)
) -> JSONResponse:
    with svc.db.read() as s:
        return JSONResponse({"amphora_stats": uc.stats(s, ctx, amphora_id)})


@router.put(BASE + "/{amphora_id}/config", status_code=202)
def configure_amphora(
    amphora_id: str, svc: Services = Depends(services), ctx: RequestContext = Depends(context)
) -> Response:
    with svc.db.session() as s:
        uc.configure(svc, s, ctx, amphora_id)
    svc.notify()
    return Response(status_code=202)


@router.put(BASE + "/{amphora_id}/failover", status_code=202)
def failover_amphora(
    amphora_id: str, svc: Services = Depends(services), ctx: RequestContext = Depends(context)
) -> Response:
    with svc.db.session() as s:
        uc.failover(svc, s, ctx, amphora_id)
    svc.notify()
    return Response(status_code=202)


@router.delete(BASE + "/{amphora_id}", status_code=204)
def delete_amphora(
    amphora_id: str, svc: Services = Depends(services), ctx: RequestContext = Depends(context)
) -> Response:
    with svc.db.session() as s:
        uc.delete(svc, s, ctx, amphora_id)
    svc.notify()
    return Response(status_code=204)
