"""/v2/lbaas/loadbalancers: HTTP in, use case call, Octavia-shaped JSON out."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import String, bindparam, cast, func, select
from sqlalchemy.orm import Session

from portus import constants as c
from portus.api.deps import (
    STATUS_RESOURCE_COLUMNS,
    FastJSONResponse,
    collection_url,
    context,
    json_list,
    list_params,
    services,
)
from portus.api.schemas.loadbalancer import LoadBalancerCreateBody, LoadBalancerUpdateBody
from portus.db.models import Listener, LoadBalancer, Pool, Tag
from portus.service import loadbalancers as uc
from portus.service.common import Services
from portus.service.errors import NotFound
from portus.service.listing import ListParams, paginate, scoped, select_fields
from portus.service.policy import RequestContext

router = APIRouter(tags=["loadbalancers"])
BASE = "/lbaas/loadbalancers"

# The columns a view shows, in the order ``row_view`` unpacks them.
VIEW_NAMES = (
    *STATUS_RESOURCE_COLUMNS,
    "created_at",
    "updated_at",
    "vip_address",
    "vip_port_id",
    "vip_subnet_id",
    "vip_network_id",
    "vip_qos_policy_id",
    "vip_sg_ids",
    "vip_vnic_type",
    "additional_vips",
    "provider",
    "flavor_id",
    "availability_zone",
)
_UNFILTERED = ("vip_sg_ids", "vip_vnic_type", "additional_vips")
COLUMNS = {name: getattr(LoadBalancer, name) for name in VIEW_NAMES if name not in _UNFILTERED}
COLUMNS["tenant_id"] = LoadBalancer.project_id


def render_one(session: Session, lb_id: str) -> dict[str, Any]:
    """An LB as the API shows it, read in the caller's transaction (so a write's own flushed
    changes show) with the same query and view as show and list."""
    return row_view(session.connection().execute(SHOW_ONE, {"lb_id": lb_id}).one())


def render_full(session: Session, lb_id: str) -> dict[str, Any]:
    """POST response of a fully populated create: listeners and pools as whole objects."""
    from portus.api.routes import listeners as listener_routes
    from portus.api.routes import pools as pool_routes

    body = render_one(session, lb_id)
    body["listeners"] = [
        listener_routes.render_one(session, obj)
        for obj in session.scalars(
            select(Listener).where(Listener.load_balancer_id == lb_id).order_by(Listener.created_at)
        )
    ]
    body["pools"] = [
        pool_routes.render_one(session, obj)
        for obj in session.scalars(
            select(Pool).where(Pool.load_balancer_id == lb_id).order_by(Pool.created_at)
        )
    ]
    return body


def _aggregated(column: Any, key: Any, parent: Any) -> Any:
    """A correlated subquery: the ids (or tags) of one LB's children, comma-joined."""
    table = column.table
    return (
        select(func.aggregate_strings(column, ","))
        .where(key == parent)
        .correlate(LB)
        .scalar_subquery()
        .label(f"{table.name}_agg")
    )


LB = LoadBalancer.__table__
_TEXT = ("created_at", "updated_at", "vip_sg_ids", "additional_vips")
# Timestamps and JSON come as text: parsing them per row cost more than the rest of the row,
# and views print them as text again anyway.
LIST_COLUMNS = [
    *(cast(LB.c[n], String).label(n) if n in _TEXT else LB.c[n] for n in VIEW_NAMES),
    _aggregated(Listener.__table__.c.id, Listener.__table__.c.load_balancer_id, LB.c.id),
    _aggregated(Pool.__table__.c.id, Pool.__table__.c.load_balancer_id, LB.c.id),
    _aggregated(Tag.__table__.c.tag, Tag.__table__.c.resource_id, LB.c.id),
]
SHOW_ONE = select(*LIST_COLUMNS).where(LB.c.id == bindparam("lb_id"))


def _split(value: str | None) -> list[str]:
    return sorted(value.split(",")) if value else []


def _ids(value: str | None) -> list[dict[str, str]]:
    return [{"id": i} for i in _split(value)]


def _text_ts(value: str | None) -> str | None:
    return value[:19].replace(" ", "T") if value else None


def row_view(row: Any) -> dict[str, Any]:
    """``view`` of a LIST_COLUMNS row, unpacked by position: this runs once per LB of a list,
    and attribute access on a Row (or a namespace built from it) was most of a list's cost."""
    (
        id_,
        name,
        description,
        admin_state_up,
        project_id,
        provisioning_status,
        operating_status,
        created_at,
        updated_at,
        vip_address,
        vip_port_id,
        vip_subnet_id,
        vip_network_id,
        vip_qos_policy_id,
        vip_sg_ids,
        vip_vnic_type,
        additional_vips,
        provider,
        flavor_id,
        availability_zone,
        listeners,
        pools,
        tags,
    ) = row
    return {
        "id": id_,
        "name": name or "",
        "description": description or "",
        "admin_state_up": bool(admin_state_up),
        "project_id": project_id,
        "tenant_id": project_id,
        "provisioning_status": provisioning_status,
        "operating_status": operating_status,
        "created_at": _text_ts(created_at),
        "updated_at": _text_ts(updated_at),
        "vip_address": vip_address,
        "vip_port_id": vip_port_id,
        "vip_subnet_id": vip_subnet_id,
        "vip_network_id": vip_network_id,
        "vip_qos_policy_id": vip_qos_policy_id,
        "vip_sg_ids": json_list(vip_sg_ids),
        "vip_vnic_type": vip_vnic_type,
        "additional_vips": json_list(additional_vips),
        "provider": provider or "octavia",
        "flavor_id": flavor_id,
        "availability_zone": availability_zone,
        "listeners": _ids(listeners),
        "pools": _ids(pools),
        "tags": _split(tags),
    }


@router.get(BASE)
async def list_loadbalancers(
    request: Request,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
    params: ListParams = Depends(list_params),
) -> JSONResponse:
    with svc.db.read() as s:
        stmt = select(*LIST_COLUMNS).where(LoadBalancer.provisioning_status != c.DELETED)
        if not ctx.can_read_all:
            ctx.require_read(ctx.project_id)
        stmt = scoped(stmt, LoadBalancer, ctx.project_id, ctx.can_read_all)
        page = paginate(
            s,
            stmt,
            LoadBalancer,
            params,
            columns=COLUMNS,
            base_url=collection_url(request),
            max_limit=svc.settings.pagination_max_limit,
            core=True,
        )
    fields = params.fields
    items = [select_fields(row_view(row), fields) for row in page.rows]
    return FastJSONResponse({"loadbalancers": items, "loadbalancers_links": page.links})


@router.post(BASE, status_code=201)
def create_loadbalancer(
    body: LoadBalancerCreateBody,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
) -> JSONResponse:
    raw = body.loadbalancer.given()
    with svc.db.session() as s:
        lb_id = uc.create(svc, s, ctx, raw)
        s.flush()
        full = raw.get("listeners") or raw.get("pools")
        result = render_full(s, lb_id) if full else render_one(s, lb_id)
    svc.notify()
    return JSONResponse({"loadbalancer": result}, status_code=201)


@router.get(BASE + "/{lb_id}")
async def show_loadbalancer(
    lb_id: str,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
    params: ListParams = Depends(list_params),
) -> JSONResponse:
    # One Core query (the list's, by id) instead of the ORM object and three child lookups:
    # status polling makes this the hottest call of the API.
    with svc.db.read() as s:
        row = s.connection().execute(SHOW_ONE, {"lb_id": lb_id}).first()
    if row is None or row.provisioning_status == c.DELETED:
        raise NotFound(uc.LABEL, lb_id)
    ctx.require_read(row.project_id)
    return FastJSONResponse({"loadbalancer": select_fields(row_view(row), params.fields)})


@router.put(BASE + "/{lb_id}")
def update_loadbalancer(
    lb_id: str,
    body: LoadBalancerUpdateBody,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
) -> JSONResponse:
    with svc.db.session() as s:
        uc.update(svc, s, ctx, lb_id, body.loadbalancer.given())
        s.flush()
        result = render_one(s, lb_id)
    svc.notify()
    return JSONResponse({"loadbalancer": result})


@router.delete(BASE + "/{lb_id}", status_code=204)
def delete_loadbalancer(
    lb_id: str,
    cascade: bool = False,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
) -> Response:
    with svc.db.session() as s:
        uc.delete(svc, s, ctx, lb_id, cascade)
    svc.notify()
    return Response(status_code=204)


@router.get(BASE + "/{lb_id}/stats")
def loadbalancer_stats(
    lb_id: str, svc: Services = Depends(services), ctx: RequestContext = Depends(context)
) -> JSONResponse:
    with svc.db.read() as s:
        return JSONResponse({"stats": uc.stats(s, ctx, lb_id)})


@router.get(BASE + "/{lb_id}/status")
@router.get(BASE + "/{lb_id}/statuses", include_in_schema=False)
def loadbalancer_status(
    lb_id: str, svc: Services = Depends(services), ctx: RequestContext = Depends(context)
) -> JSONResponse:
    with svc.db.read() as s:
        return JSONResponse({"statuses": uc.status_tree(s, ctx, lb_id)})


@router.put(BASE + "/{lb_id}/failover", status_code=202)
def failover_loadbalancer(
    lb_id: str, svc: Services = Depends(services), ctx: RequestContext = Depends(context)
) -> Response:
    with svc.db.session() as s:
        uc.failover(svc, s, ctx, lb_id)
    svc.notify()
    return Response(status_code=202)
