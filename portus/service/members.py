"""Member use cases: create, update, delete and the declarative batch update of a pool."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from portus import constants as c
from portus.db.models import Flavor, FlavorProfile, HealthMonitor, Member, Pool
from portus.service import network
from portus.service import validate_l4 as v
from portus.service.common import (
    Services,
    check_quota,
    get_scoped,
    mark,
    refuse_if_deleting,
    set_tags,
    touch_lb,
)
from portus.service.errors import (
    ApiError,
    Conflict,
    NotFound,
    NotImplementedByProvider,
    ValidationFailure,
)
from portus.service.listeners import LB_LABEL, pending_update
from portus.service.policy import RequestContext

LABEL = "Member"
POOL_LABEL = "Pool"
RESET: dict[str, Any] = {
    "name": None,
    "weight": 1,
    "backup": False,
    "monitor_address": None,
    "monitor_port": None,
}


def pool_for_write(session: Session, ctx: RequestContext, pool_id: str) -> Pool:
    pool = get_scoped(
        session, ctx, Pool, pool_id, POOL_LABEL, options=[joinedload(Pool.load_balancer)]
    )
    ctx.require_write(pool.project_id)
    refuse_if_deleting(pool.load_balancer, LB_LABEL)
    refuse_if_deleting(pool, POOL_LABEL)
    return pool


def get_in_pool(session: Session, ctx: RequestContext, pool_id: str, member_id: str) -> Member:
    """A member, only through its own pool (another pool's member is 404)."""
    get_scoped(session, ctx, Pool, pool_id, POOL_LABEL)
    member = session.get(Member, member_id)
    if member is None or member.pool_id != pool_id:
        raise NotFound(LABEL, member_id)
    return member


def _has_monitor(session: Session, pool: Pool) -> bool:
    hm = session.scalars(select(HealthMonitor).where(HealthMonitor.pool_id == pool.id)).first()
    return hm is not None and hm.provisioning_status != c.PENDING_DELETE


def _subnet(svc: Services, pool: Pool, ref: str | None) -> str | None:
    """The member subnet's id; unknown subnets are refused unless the LB is noop."""
    if ref is None:
        return None
    subnet = network.find_subnet(svc.settings, ref)
    if subnet is not None:
        return subnet.id
    if (pool.load_balancer.provider or "noop") != "noop":
        raise ApiError(f"Subnet {ref} not found.")
    return ref


def _sriov_allowed(session: Session, pool: Pool) -> bool:
    flavor = session.get(Flavor, pool.load_balancer.flavor_id or "")
    profile = session.get(FlavorProfile, flavor.flavor_profile_id) if flavor else None
    try:
        data = json.loads(profile.flavor_data) if profile else {}
    except ValueError:
        data = {}
    return bool(data.get("allow_member_sriov"))


def _check_unique(session: Session, pool: Pool, address: str, port: int) -> None:
    taken = session.scalars(
        select(Member.id).where(
            Member.pool_id == pool.id, Member.address == address, Member.protocol_port == port
        )
    ).first()
    if taken is not None:
        raise Conflict(
            f"Another member on this pool is already using ip {address} on protocol_port {port}"
        )


def _check_l4_family(pool: Pool, address: str) -> None:
    """UDP/SCTP members are reached by nftables DNAT, which cannot turn an IPv4 packet into an
    IPv6 one (or back): a member with no VIP of its family would never get a datagram. Refused
    with 501, as Octavia's amphora driver does; the noop provider builds nothing and accepts."""
    lb = pool.load_balancer
    if pool.protocol not in ("UDP", "SCTP") or (lb.provider or "noop") == "noop":
        return
    vips = [lb.vip_address, *(a.get("ip_address") for a in lb.additional_vips or [])]
    families = {ipaddress.ip_address(vip).version for vip in vips if vip}
    if families and ipaddress.ip_address(address).version not in families:
        raise NotImplementedByProvider(
            f"Provider '{lb.provider}' does not support a requested option: {pool.protocol} "
            f"pool members must share an IP version with one of the load balancer's VIPs "
            f"(member {address} is IPv{ipaddress.ip_address(address).version})."
        )


def create_in_pool(svc: Services, session: Session, pool: Pool, body: dict[str, Any]) -> Member:
    """Validate and add one member (PENDING_CREATE); the caller touches the LB."""
    check_quota(svc, session, pool.project_id, "member")
    address, port = v.member_key(body)
    v.check_member_address(address)
    _check_l4_family(pool, address)
    _check_unique(session, pool, address, port)
    vnic_type = "normal"
    if body.get("request_sriov"):
        if not _sriov_allowed(session, pool):
            raise ValidationFailure(
                "Member SR-IOV ports are not enabled for this load balancer's flavor."
            )
        vnic_type = "direct"
    fields = {k: (d if body.get(k) is None else body[k]) for k, d in RESET.items()}
    member = Member(
        project_id=pool.project_id,
        pool_id=pool.id,
        address=address,
        protocol_port=port,
        subnet_id=_subnet(svc, pool, body.get("subnet_id")),
        admin_state_up=bool(body.get("admin_state_up", True)),
        vnic_type=vnic_type,
        provisioning_status=c.PENDING_CREATE,
        operating_status=c.OFFLINE if _has_monitor(session, pool) else c.NO_MONITOR,
        **fields,
    )
    session.add(member)
    session.flush()
    set_tags(session, member.id, body.get("tags"), new=True)
    return member


def create(
    svc: Services, session: Session, ctx: RequestContext, pool_id: str, body: dict[str, Any]
) -> Member:
    pool = pool_for_write(session, ctx, pool_id)
    member = create_in_pool(svc, session, pool, body)
    touch_lb(svc, session, pool.load_balancer)
    return member


def _apply(session: Session, member: Member, changes: dict[str, Any]) -> bool:
    """Write the mutable fields sent; True if anything changed."""
    changed = False
    for key, default in RESET.items():
        if key in changes:
            value = default if changes[key] is None else changes[key]
            if getattr(member, key) != value:
                setattr(member, key, value)
                changed = True
    if "admin_state_up" in changes and member.admin_state_up != bool(changes["admin_state_up"]):
        member.admin_state_up = bool(changes["admin_state_up"])
        changed = True
    if "tags" in changes:
        set_tags(session, member.id, changes["tags"])
        changed = True
    return changed


def update(
    svc: Services,
    session: Session,
    ctx: RequestContext,
    pool_id: str,
    member_id: str,
    changes: dict[str, Any],
) -> Member:
    pool = pool_for_write(session, ctx, pool_id)
    member = get_in_pool(session, ctx, pool_id, member_id)
    refuse_if_deleting(member, LABEL)
    _apply(session, member, changes)
    pending_update(member)
    touch_lb(svc, session, pool.load_balancer)
    return member


def delete(
    svc: Services, session: Session, ctx: RequestContext, pool_id: str, member_id: str
) -> None:
    pool = pool_for_write(session, ctx, pool_id)
    member = get_in_pool(session, ctx, pool_id, member_id)
    refuse_if_deleting(member, LABEL)
    mark(member, c.PENDING_DELETE)
    touch_lb(svc, session, pool.load_balancer)


def batch_update(
    svc: Services,
    session: Session,
    ctx: RequestContext,
    pool_id: str,
    wanted: list[dict[str, Any]],
    additive_only: bool,
) -> None:
    """Make the pool's member set ``wanted``, matched by (address, protocol_port).

    Matches are updated with the fields sent, new ones created, and (unless ``additive_only``)
    the rest deleted. A member being deleted that is asked for again is kept instead. Nothing
    is queued when nothing changes.
    """
    pool = pool_for_write(session, ctx, pool_id)
    v.check_batch_unique(wanted)
    existing = {
        (m.address, m.protocol_port): m
        for m in session.scalars(select(Member).where(Member.pool_id == pool.id))
    }
    fresh = [body for body in wanted if v.member_key(body) not in existing]
    check_quota(svc, session, pool.project_id, "member", adding=len(fresh))
    changed = False
    for body in wanted:
        member = existing.get(v.member_key(body))
        if member is None:
            continue
        updates = {
            k: val for k, val in body.items() if k in RESET or k in ("admin_state_up", "tags")
        }
        reviving = member.provisioning_status == c.PENDING_DELETE
        if _apply(session, member, updates) or reviving:
            if reviving:
                mark(member, c.PENDING_UPDATE)
            else:
                pending_update(member)
            changed = True
    if not additive_only:
        keep = {v.member_key(body) for body in wanted}
        for key, member in existing.items():
            if key not in keep and member.provisioning_status != c.PENDING_DELETE:
                mark(member, c.PENDING_DELETE)
                changed = True
    for body in fresh:
        create_in_pool(svc, session, pool, body)
        changed = True
    if changed:
        touch_lb(svc, session, pool.load_balancer)
