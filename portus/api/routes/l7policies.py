"""/v2/lbaas/l7policies: HTTP in, use case call, Octavia-shaped JSON out."""

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
from portus.api.schemas.l7policy import L7PolicyCreateBody, L7PolicyUpdateBody
from portus.db.models import L7Policy, L7Rule
from portus.service import l7policies as uc
from portus.service.common import Services, tags_of
from portus.service.listing import ListParams, paginate, scoped, select_fields
from portus.service.policy import RequestContext

router = APIRouter(tags=["l7policies"])
BASE = "/lbaas/l7policies"

COLUMNS = {
    name: getattr(L7Policy, name)
    for name in (
        "id",
        "name",
        "description",
        "admin_state_up",
        "project_id",
        "listener_id",
        "action",
        "redirect_pool_id",
        "redirect_url",
        "redirect_prefix",
        "redirect_http_code",
        "position",
        "provisioning_status",
        "operating_status",
        "created_at",
        "updated_at",
    )
}
COLUMNS["tenant_id"] = L7Policy.project_id


def _rule_ids(session: Session, policy_ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if not policy_ids:
        return out
    rows = session.execute(
        select(L7Rule.l7policy_id, L7Rule.id)
        .where(L7Rule.l7policy_id.in_(policy_ids), L7Rule.provisioning_status != c.DELETED)
        .order_by(L7Rule.created_at, L7Rule.id)
    )
    for policy_id, rule_id in rows:
        out.setdefault(policy_id, []).append(rule_id)
    return out


def view(policy: L7Policy, tags: list[str], rule_ids: list[str]) -> dict[str, Any]:
    return {
        "id": policy.id,
        "name": policy.name or "",
        "description": policy.description or "",
        "admin_state_up": policy.admin_state_up,
        **owner_fields(policy),
        "listener_id": policy.listener_id,
        "action": policy.action,
        "position": policy.position,
        "redirect_pool_id": policy.redirect_pool_id,
        "redirect_url": policy.redirect_url,
        "redirect_prefix": policy.redirect_prefix,
        "redirect_http_code": policy.redirect_http_code,
        "rules": [{"id": i} for i in rule_ids],
        **status_fields(policy),
        "tags": tags,
    }


def render_one(session: Session, policy: L7Policy) -> dict[str, Any]:
    tags = tags_of(session, [policy.id]).get(policy.id, [])
    return view(policy, tags, _rule_ids(session, [policy.id]).get(policy.id, []))


@router.get(BASE)
def list_l7policies(
    request: Request,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
    params: ListParams = Depends(list_params),
) -> JSONResponse:
    with svc.db.read() as s:
        stmt = select(L7Policy).where(L7Policy.provisioning_status != c.DELETED)
        if not ctx.can_read_all:
            ctx.require_read(ctx.project_id)
        stmt = scoped(stmt, L7Policy, ctx.project_id, ctx.can_read_all)
        page = paginate(
            s,
            stmt,
            L7Policy,
            params,
            columns=COLUMNS,
            base_url=collection_url(request),
            max_limit=svc.settings.pagination_max_limit,
        )
        ids = [p.id for p in page.rows]
        tags, rules = tags_of(s, ids), _rule_ids(s, ids)
        items = [
            select_fields(view(p, tags.get(p.id, []), rules.get(p.id, [])), params.fields)
            for p in page.rows
        ]
    return JSONResponse({"l7policies": items, "l7policies_links": page.links})


@router.post(BASE, status_code=201)
def create_l7policy(
    body: L7PolicyCreateBody,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
) -> JSONResponse:
    with svc.db.session() as s:
        policy = uc.create(svc, s, ctx, body.l7policy.given())
        s.flush()
        result = render_one(s, policy)
    svc.notify()
    return JSONResponse({"l7policy": result}, status_code=201)


@router.get(BASE + "/{policy_id}")
def show_l7policy(
    policy_id: str,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
    params: ListParams = Depends(list_params),
) -> JSONResponse:
    with svc.db.read() as s:
        result = select_fields(render_one(s, uc.get(s, ctx, policy_id)), params.fields)
    return JSONResponse({"l7policy": result})


@router.put(BASE + "/{policy_id}")
def update_l7policy(
    policy_id: str,
    body: L7PolicyUpdateBody,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
) -> JSONResponse:
    with svc.db.session() as s:
        policy = uc.update(svc, s, ctx, policy_id, body.l7policy.given())
        s.flush()
        result = render_one(s, policy)
    svc.notify()
    return JSONResponse({"l7policy": result})


@router.delete(BASE + "/{policy_id}", status_code=204)
def delete_l7policy(
    policy_id: str, svc: Services = Depends(services), ctx: RequestContext = Depends(context)
) -> Response:
    with svc.db.session() as s:
        uc.delete(svc, s, ctx, policy_id)
    svc.notify()
    return Response(status_code=204)
