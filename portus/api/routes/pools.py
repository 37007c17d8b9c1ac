"""/v2/lbaas/pools: HTTP in, use case call, Octavia-shaped JSON out."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from portus.api.deps import (
    STATUS_RESOURCE_COLUMNS,
    collection_url,
    context,
    list_params,
    owner_fields,
    services,
    status_fields,
)
from portus.api.schemas.pool import PoolCreateBody, PoolUpdateBody
from portus.db.models import HealthMonitor, L7Policy, Listener, Member, Pool
from portus.service import graph
from portus.service import pools as uc
from portus.service.common import Services, get_scoped, tags_of
from portus.service.listing import ListParams, paginate, scoped, select_fields
from portus.service.policy import RequestContext

router = APIRouter(tags=["pools"])
BASE = "/lbaas/pools"

COLUMNS = {
    name: getattr(Pool, name)
    for name in (
        *STATUS_RESOURCE_COLUMNS,
        "protocol",
        "lb_algorithm",
        "tls_enabled",
        "tls_container_ref",
        "ca_tls_container_ref",
        "crl_container_ref",
        "tls_ciphers",
        "created_at",
        "updated_at",
    )
}
COLUMNS["tenant_id"] = Pool.project_id
COLUMNS["loadbalancer_id"] = Pool.load_balancer_id
COLUMNS["load_balancer_id"] = Pool.load_balancer_id


class Related:
    """Ids a pool's view lists (listeners, members, monitor), fetched for a page at once."""

    def __init__(self, session: Session, pool_ids: list[str]) -> None:
        self.listeners: dict[str, list[str]] = {}
        self.members: dict[str, list[str]] = {}
        self.monitor: dict[str, str] = {}
        if not pool_ids:
            return
        default = select(Listener.default_pool_id, Listener.id, Listener.created_at).where(
            Listener.default_pool_id.in_(pool_ids)
        )
        redirect = (
            select(L7Policy.redirect_pool_id, Listener.id, Listener.created_at)
            .join(Listener, Listener.id == L7Policy.listener_id)
            .where(L7Policy.redirect_pool_id.in_(pool_ids))
        )
        rows = sorted([*session.execute(default), *session.execute(redirect)], key=lambda r: r[2])
        for pool_id, listener_id, _ in rows:
            seen = self.listeners.setdefault(pool_id, [])
            if listener_id not in seen:
                seen.append(listener_id)
        for pool_id, member_id in session.execute(
            select(Member.pool_id, Member.id)
            .where(Member.pool_id.in_(pool_ids))
            .order_by(Member.created_at)
        ):
            self.members.setdefault(pool_id, []).append(member_id)
        for pool_id, hm_id in session.execute(
            select(HealthMonitor.pool_id, HealthMonitor.id).where(
                HealthMonitor.pool_id.in_(pool_ids)
            )
        ):
            self.monitor[pool_id] = hm_id


def session_persistence(pool: Pool) -> dict[str, Any] | None:
    sp = pool.session_persistence
    if not sp:
        return None
    keys = ("type", "cookie_name", "persistence_timeout", "persistence_granularity")
    return {k: sp.get(k) for k in keys}


def view(pool: Pool, tags: list[str], related: Related) -> dict[str, Any]:
    return {
        "id": pool.id,
        "name": pool.name or "",
        "description": pool.description or "",
        "admin_state_up": pool.admin_state_up,
        **owner_fields(pool),
        **status_fields(pool),
        "protocol": pool.protocol,
        "lb_algorithm": pool.lb_algorithm,
        "session_persistence": session_persistence(pool),
        "loadbalancers": [{"id": pool.load_balancer_id}],
        "listeners": [{"id": i} for i in related.listeners.get(pool.id, [])],
        "members": [{"id": i} for i in related.members.get(pool.id, [])],
        "healthmonitor_id": related.monitor.get(pool.id),
        "tls_enabled": bool(pool.tls_enabled),
        "tls_container_ref": pool.tls_container_ref,
        "ca_tls_container_ref": pool.ca_tls_container_ref,
        "crl_container_ref": pool.crl_container_ref,
        "tls_ciphers": pool.tls_ciphers,
        "tls_versions": pool.tls_versions,
        "alpn_protocols": pool.alpn_protocols,
        "tags": tags,
    }


def render_one(session: Session, pool: Pool) -> dict[str, Any]:
    """One pool as the API shows it (also used by the fully populated LB create)."""
    return view(pool, tags_of(session, [pool.id]).get(pool.id, []), Related(session, [pool.id]))


@router.get(BASE)
def list_pools(
    request: Request,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
    params: ListParams = Depends(list_params),
) -> JSONResponse:
    with svc.db.read() as s:
        if not ctx.can_read_all:
            ctx.require_read(ctx.project_id)
        stmt = scoped(select(Pool), Pool, ctx.project_id, ctx.can_read_all)
        page = paginate(
            s,
            stmt,
            Pool,
            params,
            columns=COLUMNS,
            base_url=collection_url(request),
            max_limit=svc.settings.pagination_max_limit,
        )
        ids = [p.id for p in page.rows]
        tags, related = tags_of(s, ids), Related(s, ids)
        items = [
            select_fields(view(p, tags.get(p.id, []), related), params.fields) for p in page.rows
        ]
    return JSONResponse({"pools": items, "pools_links": page.links})


@router.post(BASE, status_code=201)
def create_pool(
    body: PoolCreateBody,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
) -> JSONResponse:
    with svc.db.session() as s:
        pool = graph.create_pool(svc, s, ctx, body.pool.model_dump(exclude_unset=True))
        result = render_one(s, pool)
    svc.notify()
    return JSONResponse({"pool": result}, status_code=201)


@router.get(BASE + "/{pool_id}")
def show_pool(
    pool_id: str,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
    params: ListParams = Depends(list_params),
) -> JSONResponse:
    with svc.db.read() as s:
        pool = get_scoped(s, ctx, Pool, pool_id, uc.LABEL)
        result = select_fields(render_one(s, pool), params.fields)
    return JSONResponse({"pool": result})


@router.put(BASE + "/{pool_id}")
def update_pool(
    pool_id: str,
    body: PoolUpdateBody,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
) -> JSONResponse:
    with svc.db.session() as s:
        pool = uc.update(svc, s, ctx, pool_id, body.pool.model_dump(exclude_unset=True))
        s.flush()
        result = render_one(s, pool)
    svc.notify()
    return JSONResponse({"pool": result})


@router.delete(BASE + "/{pool_id}", status_code=204)
def delete_pool(
    pool_id: str, svc: Services = Depends(services), ctx: RequestContext = Depends(context)
) -> Response:
    with svc.db.session() as s:
        uc.delete(svc, s, ctx, pool_id)
    svc.notify()
    return Response(status_code=204)
