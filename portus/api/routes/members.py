"""/v2/lbaas/pools/{pool_id}/members: HTTP in, use case call, Octavia-shaped JSON out."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from portus.api.deps import (
    collection_url,
    context,
    list_params,
    owner_fields,
    services,
    status_fields,
)
from portus.api.schemas.member import MemberBatchBody, MemberCreateBody, MemberUpdateBody
from portus.db.models import Member, Pool
from portus.service import members as uc
from portus.service.common import Services, get_scoped, tags_of
from portus.service.listing import TRUE, ListParams, paginate, select_fields
from portus.service.policy import RequestContext

router = APIRouter(tags=["members"])
BASE = "/lbaas/pools/{pool_id}/members"

COLUMNS = {
    name: getattr(Member, name)
    for name in (
        "id",
        "name",
        "admin_state_up",
        "project_id",
        "provisioning_status",
        "operating_status",
        "address",
        "protocol_port",
        "subnet_id",
        "weight",
        "backup",
        "monitor_address",
        "monitor_port",
        "vnic_type",
        "created_at",
        "updated_at",
    )
}
COLUMNS["tenant_id"] = Member.project_id


def view(member: Member, tags: list[str]) -> dict[str, Any]:
    """Octavia shows no pool_id on a member: the URL already says which pool."""
    return {
        "id": member.id,
        "name": member.name or "",
        "admin_state_up": member.admin_state_up,
        **owner_fields(member),
        **status_fields(member),
        "address": member.address,
        "protocol_port": member.protocol_port,
        "subnet_id": member.subnet_id,
        "weight": member.weight,
        "backup": bool(member.backup),
        "monitor_address": member.monitor_address,
        "monitor_port": member.monitor_port,
        "vnic_type": member.vnic_type,
        "tags": tags,
    }


def render_one(session: Session, member: Member) -> dict[str, Any]:
    return view(member, tags_of(session, [member.id]).get(member.id, []))


@router.get(BASE)
def list_members(
    pool_id: str,
    request: Request,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
    params: ListParams = Depends(list_params),
) -> JSONResponse:
    with svc.db.read() as s:
        pool = get_scoped(s, ctx, Pool, pool_id, uc.POOL_LABEL)
        page = paginate(
            s,
            select(Member).where(Member.pool_id == pool.id),
            Member,
            params,
            columns=COLUMNS,
            base_url=collection_url(request),
            max_limit=svc.settings.pagination_max_limit,
        )
        tags = tags_of(s, [m.id for m in page.rows])
        items = [select_fields(view(m, tags.get(m.id, [])), params.fields) for m in page.rows]
    return JSONResponse({"members": items, "members_links": page.links})


@router.post(BASE, status_code=201)
def create_member(
    pool_id: str,
    body: MemberCreateBody,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
) -> JSONResponse:
    with svc.db.session() as s:
        member = uc.create(svc, s, ctx, pool_id, body.member.model_dump(exclude_unset=True))
        result = render_one(s, member)
    svc.notify()
    return JSONResponse({"member": result}, status_code=201)


@router.put(BASE, status_code=202)
def batch_update_members(
    pool_id: str,
    body: MemberBatchBody,
    request: Request,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
) -> Response:
    additive_only = (request.query_params.get("additive_only") or "").lower() in TRUE
    wanted = [m.model_dump(exclude_unset=True) for m in body.members]
    with svc.db.session() as s:
        uc.batch_update(svc, s, ctx, pool_id, wanted, additive_only)
    svc.notify()
    return Response(status_code=202)


@router.get(BASE + "/{member_id}")
def show_member(
    pool_id: str,
    member_id: str,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
    params: ListParams = Depends(list_params),
) -> JSONResponse:
    with svc.db.read() as s:
        member = uc.get_in_pool(s, ctx, pool_id, member_id)
        result = select_fields(render_one(s, member), params.fields)
    return JSONResponse({"member": result})


@router.put(BASE + "/{member_id}")
def update_member(
    pool_id: str,
    member_id: str,
    body: MemberUpdateBody,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
) -> JSONResponse:
    with svc.db.session() as s:
        member = uc.update(
            svc, s, ctx, pool_id, member_id, body.member.model_dump(exclude_unset=True)
        )
        s.flush()
        result = render_one(s, member)
    svc.notify()
    return JSONResponse({"member": result})


@router.delete(BASE + "/{member_id}", status_code=204)
def delete_member(
    pool_id: str,
    member_id: str,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
) -> Response:
    with svc.db.session() as s:
        uc.delete(svc, s, ctx, pool_id, member_id)
    svc.notify()
    return Response(status_code=204)
