"""/v2/lbaas/l7policies/{id}/rules: envelope ``rule`` / ``rules`` (not ``l7rule``)."""

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
from portus.api.schemas.l7rule import L7RuleCreateBody, L7RuleUpdateBody
from portus.db.models import L7Rule
from portus.service import l7rules as uc
from portus.service.common import Services, tags_of
from portus.service.listing import ListParams, paginate, select_fields
from portus.service.policy import RequestContext

router = APIRouter(tags=["l7rules"])
BASE = "/lbaas/l7policies/{policy_id}/rules"

COLUMNS = {
    name: getattr(L7Rule, name)
    for name in (
        "id",
        "admin_state_up",
        "project_id",
        "type",
        "compare_type",
        "key",
        "value",
        "invert",
        "provisioning_status",
        "operating_status",
        "created_at",
        "updated_at",
    )
}
COLUMNS["tenant_id"] = L7Rule.project_id


def view(rule: L7Rule, tags: list[str]) -> dict[str, Any]:
    return {
        "id": rule.id,
        "type": rule.type,
        "compare_type": rule.compare_type,
        "key": rule.key,
        "value": rule.value,
        "invert": rule.invert,
        "admin_state_up": rule.admin_state_up,
        **owner_fields(rule),
        **status_fields(rule),
        "tags": tags,
    }


def render_one(session: Session, rule: L7Rule) -> dict[str, Any]:
    return view(rule, tags_of(session, [rule.id]).get(rule.id, []))


@router.get(BASE)
def list_l7rules(
    policy_id: str,
    request: Request,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
    params: ListParams = Depends(list_params),
) -> JSONResponse:
    with svc.db.read() as s:
        uc.get_policy(s, ctx, policy_id)
        stmt = select(L7Rule).where(
            L7Rule.l7policy_id == policy_id, L7Rule.provisioning_status != c.DELETED
        )
        page = paginate(
            s,
            stmt,
            L7Rule,
            params,
            columns=COLUMNS,
            base_url=collection_url(request),
            max_limit=svc.settings.pagination_max_limit,
        )
        tags = tags_of(s, [r.id for r in page.rows])
        items = [select_fields(view(r, tags.get(r.id, [])), params.fields) for r in page.rows]
    return JSONResponse({"rules": items, "rules_links": page.links})


@router.post(BASE, status_code=201)
def create_l7rule(
    policy_id: str,
    body: L7RuleCreateBody,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
) -> JSONResponse:
    with svc.db.session() as s:
        rule = uc.create(svc, s, ctx, policy_id, body.rule.given())
        result = render_one(s, rule)
    svc.notify()
    return JSONResponse({"rule": result}, status_code=201)


@router.get(BASE + "/{rule_id}")
def show_l7rule(
    policy_id: str,
    rule_id: str,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
    params: ListParams = Depends(list_params),
) -> JSONResponse:
    with svc.db.read() as s:
        result = select_fields(render_one(s, uc.get(s, ctx, policy_id, rule_id)), params.fields)
    return JSONResponse({"rule": result})


@router.put(BASE + "/{rule_id}")
def update_l7rule(
    policy_id: str,
    rule_id: str,
    body: L7RuleUpdateBody,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
) -> JSONResponse:
    with svc.db.session() as s:
        rule = uc.update(svc, s, ctx, policy_id, rule_id, body.rule.given())
        s.flush()
        result = render_one(s, rule)
    svc.notify()
    return JSONResponse({"rule": result})


@router.delete(BASE + "/{rule_id}", status_code=204)
def delete_l7rule(
    policy_id: str,
    rule_id: str,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
) -> Response:
    with svc.db.session() as s:
        uc.delete(svc, s, ctx, policy_id, rule_id)
    svc.notify()
    return Response(status_code=204)
