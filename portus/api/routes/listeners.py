"""/v2/lbaas/listeners: HTTP in, use case call, Octavia-shaped JSON out."""

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
from portus.api.schemas.listener import ListenerCreateBody, ListenerUpdateBody
from portus.db.models import L7Policy, Listener
from portus.service import graph
from portus.service import listeners as uc
from portus.service.common import Services, get_scoped, tags_of
from portus.service.listing import ListParams, paginate, scoped, select_fields
from portus.service.policy import RequestContext

router = APIRouter(tags=["listeners"])
BASE = "/lbaas/listeners"

COLUMNS = {
    name: getattr(Listener, name)
    for name in (
        *STATUS_RESOURCE_COLUMNS,
        "protocol",
        "protocol_port",
        "connection_limit",
        "default_pool_id",
        "timeout_client_data",
        "timeout_member_connect",
        "timeout_member_data",
        "timeout_tcp_inspect",
        "default_tls_container_ref",
        "client_authentication",
        "client_ca_tls_container_ref",
        "client_crl_container_ref",
        "tls_ciphers",
        "hsts_max_age",
        "hsts_include_subdomains",
        "hsts_preload",
        "created_at",
        "updated_at",
    )
}
COLUMNS["tenant_id"] = Listener.project_id
COLUMNS["loadbalancer_id"] = Listener.load_balancer_id
COLUMNS["load_balancer_id"] = Listener.load_balancer_id


def _policy_ids(session: Session, listener_ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if not listener_ids:
        return out
    rows = session.execute(
        select(L7Policy.listener_id, L7Policy.id)
        .where(L7Policy.listener_id.in_(listener_ids))
        .order_by(L7Policy.position, L7Policy.created_at)
    )
    for listener_id, policy_id in rows:
        out.setdefault(listener_id, []).append(policy_id)
    return out


def view(listener: Listener, tags: list[str], policy_ids: list[str]) -> dict[str, Any]:
    return {
        "id": listener.id,
        "name": listener.name or "",
        "description": listener.description or "",
        "admin_state_up": listener.admin_state_up,
        **owner_fields(listener),
        **status_fields(listener),
        "protocol": listener.protocol,
        "protocol_port": listener.protocol_port,
        "connection_limit": listener.connection_limit,
        "default_pool_id": listener.default_pool_id,
        "default_tls_container_ref": listener.default_tls_container_ref,
        "sni_container_refs": list(listener.sni_container_refs or []),
        "loadbalancers": [{"id": listener.load_balancer_id}],
        "l7policies": [{"id": i} for i in policy_ids],
        "insert_headers": dict(listener.insert_headers or {}),
        "timeout_client_data": listener.timeout_client_data,
        "timeout_member_connect": listener.timeout_member_connect,
        "timeout_member_data": listener.timeout_member_data,
        "timeout_tcp_inspect": listener.timeout_tcp_inspect,
        "client_authentication": listener.client_authentication,
        "client_ca_tls_container_ref": listener.client_ca_tls_container_ref,
        "client_crl_container_ref": listener.client_crl_container_ref,
        "allowed_cidrs": listener.allowed_cidrs or None,
        "tls_ciphers": listener.tls_ciphers,
        "tls_versions": listener.tls_versions,
        "alpn_protocols": listener.alpn_protocols,
        "hsts_max_age": listener.hsts_max_age,
        "hsts_include_subdomains": bool(listener.hsts_include_subdomains),
        "hsts_preload": bool(listener.hsts_preload),
        "tags": tags,
    }


def render_one(session: Session, listener: Listener) -> dict[str, Any]:
    """One listener as the API shows it (also used by the fully populated LB create)."""
    tags = tags_of(session, [listener.id]).get(listener.id, [])
    return view(listener, tags, _policy_ids(session, [listener.id]).get(listener.id, []))


@router.get(BASE)
def list_listeners(
    request: Request,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
    params: ListParams = Depends(list_params),
) -> JSONResponse:
    with svc.db.read() as s:
        if not ctx.can_read_all:
            ctx.require_read(ctx.project_id)
        stmt = scoped(select(Listener), Listener, ctx.project_id, ctx.can_read_all)
        page = paginate(
            s,
            stmt,
            Listener,
            params,
            columns=COLUMNS,
            base_url=collection_url(request),
            max_limit=svc.settings.pagination_max_limit,
        )
        ids = [x.id for x in page.rows]
        tags, policies = tags_of(s, ids), _policy_ids(s, ids)
        items = [
            select_fields(view(x, tags.get(x.id, []), policies.get(x.id, [])), params.fields)
            for x in page.rows
        ]
    return JSONResponse({"listeners": items, "listeners_links": page.links})


@router.post(BASE, status_code=201)
def create_listener(
    body: ListenerCreateBody,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
) -> JSONResponse:
    with svc.db.session() as s:
        listener = graph.create_listener(svc, s, ctx, body.listener.model_dump(exclude_unset=True))
        result = render_one(s, listener)
    svc.notify()
    return JSONResponse({"listener": result}, status_code=201)


@router.get(BASE + "/{listener_id}")
def show_listener(
    listener_id: str,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
    params: ListParams = Depends(list_params),
) -> JSONResponse:
    with svc.db.read() as s:
        listener = get_scoped(s, ctx, Listener, listener_id, uc.LABEL)
        result = select_fields(render_one(s, listener), params.fields)
    return JSONResponse({"listener": result})


@router.put(BASE + "/{listener_id}")
def update_listener(
    listener_id: str,
    body: ListenerUpdateBody,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
) -> JSONResponse:
    with svc.db.session() as s:
        listener = uc.update(svc, s, ctx, listener_id, body.listener.model_dump(exclude_unset=True))
        s.flush()
        result = render_one(s, listener)
    svc.notify()
    return JSONResponse({"listener": result})


@router.delete(BASE + "/{listener_id}", status_code=204)
def delete_listener(
    listener_id: str, svc: Services = Depends(services), ctx: RequestContext = Depends(context)
) -> Response:
    with svc.db.session() as s:
        uc.delete(svc, s, ctx, listener_id)
    svc.notify()
    return Response(status_code=204)


@router.get(BASE + "/{listener_id}/stats")
def listener_stats(
    listener_id: str, svc: Services = Depends(services), ctx: RequestContext = Depends(context)
) -> JSONResponse:
    with svc.db.read() as s:
        return JSONResponse({"stats": uc.stats(s, ctx, listener_id)})
