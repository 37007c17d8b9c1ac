"""Listener use cases: create (alone or inside a graph), update, delete, stats."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portus import constants as c
from portus.db.models import L7Policy, L7Rule, Listener, ListenerStats, LoadBalancer, Pool
from portus.service import tls_refs
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
from portus.service.errors import Conflict, NotFound, ValidationFailure
from portus.service.policy import RequestContext

LABEL = "Listener"
LB_LABEL = "Load Balancer"

TIMEOUT_DEFAULTS = {
    "timeout_client_data": c.DEFAULT_TIMEOUT_CLIENT_DATA,
    "timeout_member_connect": c.DEFAULT_TIMEOUT_MEMBER_CONNECT,
    "timeout_member_data": c.DEFAULT_TIMEOUT_MEMBER_DATA,
    "timeout_tcp_inspect": c.DEFAULT_TIMEOUT_TCP_INSPECT,
}
# Field -> value stored when the client sends null (or leaves it out on create).
RESET: dict[str, Any] = {
    "name": None,
    "description": None,
    "connection_limit": -1,
    "default_pool_id": None,
    "insert_headers": {},
    **TIMEOUT_DEFAULTS,
    "default_tls_container_ref": None,
    "sni_container_refs": [],
    "client_authentication": "NONE",
    "client_ca_tls_container_ref": None,
    "client_crl_container_ref": None,
    "allowed_cidrs": None,
    "tls_ciphers": None,
    "tls_versions": None,
    "alpn_protocols": None,
    "hsts_max_age": None,
    "hsts_include_subdomains": False,
    "hsts_preload": False,
}
TLS_TUNING = ("tls_ciphers", "tls_versions", "alpn_protocols")


def _state(listener: Listener) -> dict[str, Any]:
    state = {key: getattr(listener, key) for key in RESET}
    state["protocol"] = listener.protocol
    return state


def _merge(state: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Apply sent fields onto ``state``; null resets to the default."""
    out = dict(state)
    for key in RESET:
        if key in changes:
            value = changes[key]
            out[key] = RESET[key] if value is None else value
    out["allowed_cidrs"] = v.normalise_cidrs(out["allowed_cidrs"])
    return out


def _validate(session: Session, lb: LoadBalancer, state: dict[str, Any]) -> None:
    protocol = state["protocol"]
    v.check_insert_headers(protocol, state["insert_headers"])
    v.check_listener_tls(state)
    if state["allowed_cidrs"]:
        if lb.vip_sg_ids:
            raise ValidationFailure(
                "Allowed CIDRs are not allowed when using custom VIP Security Groups."
            )
        vips = [lb.vip_address or "", *[x.get("ip_address") or "" for x in lb.additional_vips]]
        v.check_cidr_families(state["allowed_cidrs"], vips)
    if state["default_pool_id"]:
        pool = session.get(Pool, state["default_pool_id"])
        v.check_no_children(protocol)
        if pool is None or pool.provisioning_status == c.DELETED:
            raise NotFound("Pool", state["default_pool_id"])
        if pool.load_balancer_id != lb.id:
            raise ValidationFailure("Listener and pool must be on the same load balancer.")
        refuse_if_deleting(pool, "Pool")
        v.check_pool_protocol(protocol, pool.protocol)


def _check_port_free(session: Session, lb: LoadBalancer, protocol: str, port: int) -> None:
    """One listener per (port, L4 family) on an LB; a listener being deleted still holds it."""
    fam = v.family(protocol)
    for other in session.scalars(
        select(Listener).where(Listener.load_balancer_id == lb.id, Listener.protocol_port == port)
    ):
        if v.family(other.protocol) == fam:
            raise Conflict(
                f"Another Listener on this Load Balancer is already using protocol {protocol} "
                f"and protocol_port {port}"
            )


def create_in_lb(
    svc: Services, session: Session, lb: LoadBalancer, body: dict[str, Any]
) -> Listener:
    """Validate and add one listener to ``lb`` (PENDING_CREATE); the caller touches the LB.

    ``body`` holds the sent listener fields; graph-only keys (default_pool, l7policies) are
    the caller's business and ignored here.
    """
    check_quota(svc, session, lb.project_id, "listener")
    state = _merge({**RESET, "protocol": body["protocol"]}, body)
    if v.terminates_tls(state):
        v.tls_defaults(state, True)
    _validate(session, lb, state)
    tls_refs.check_listener(svc, session, lb, state)
    _check_port_free(session, lb, body["protocol"], body["protocol_port"])
    listener = Listener(
        project_id=lb.project_id,
        load_balancer_id=lb.id,
        protocol=body["protocol"],
        protocol_port=body["protocol_port"],
        admin_state_up=bool(body.get("admin_state_up", True)),
        provisioning_status=c.PENDING_CREATE,
        operating_status=c.OFFLINE,
        **{k: val for k, val in state.items() if k != "protocol"},
    )
    session.add(listener)
    session.flush()
    set_tags(session, listener.id, body.get("tags"), new=True)
    return listener


def lb_for_write(session: Session, ctx: RequestContext, lb_id: str) -> LoadBalancer:
    lb = get_scoped(session, ctx, LoadBalancer, lb_id, LB_LABEL)
    ctx.require_write(lb.project_id)
    refuse_if_deleting(lb, LB_LABEL)
    return lb


def get_for_write(session: Session, ctx: RequestContext, listener_id: str) -> Listener:
    listener = get_scoped(session, ctx, Listener, listener_id, LABEL)
    ctx.require_write(listener.project_id)
    refuse_if_deleting(listener.load_balancer, LB_LABEL)
    refuse_if_deleting(listener, LABEL)
    return listener


def pending_update(obj: Any) -> None:
    """A change to an object not yet created keeps it PENDING_CREATE."""
    if obj.provisioning_status != c.PENDING_CREATE:
        mark(obj, c.PENDING_UPDATE)


def update(
    svc: Services, session: Session, ctx: RequestContext, listener_id: str, changes: dict[str, Any]
) -> Listener:
    listener = get_for_write(session, ctx, listener_id)
    lb = listener.load_balancer
    old = _state(listener)
    state = _merge(old, changes)
    if v.terminates_tls(state):
        # TLS tuning reset to null (or never set) falls back to the defaults.
        v.tls_defaults(state, True)
    _validate(session, lb, state)
    tls_refs.check_listener(svc, session, lb, state, old)
    for key, value in state.items():
        if key != "protocol":
            setattr(listener, key, value)
    if "admin_state_up" in changes:
        listener.admin_state_up = bool(changes["admin_state_up"])
    if "tags" in changes:
        set_tags(session, listener.id, changes["tags"])
    pending_update(listener)
    touch_lb(svc, session, lb)
    return listener


def delete(svc: Services, session: Session, ctx: RequestContext, listener_id: str) -> None:
    """The listener and its L7 policies and rules go PENDING_DELETE; its pools stay."""
    listener = get_for_write(session, ctx, listener_id)
    for policy in session.scalars(select(L7Policy).where(L7Policy.listener_id == listener.id)):
        for rule in session.scalars(select(L7Rule).where(L7Rule.l7policy_id == policy.id)):
            mark(rule, c.PENDING_DELETE)
        mark(policy, c.PENDING_DELETE)
    mark(listener, c.PENDING_DELETE)
    touch_lb(svc, session, listener.load_balancer)


def stats(session: Session, ctx: RequestContext, listener_id: str) -> dict[str, int]:
    listener = get_scoped(session, ctx, Listener, listener_id, LABEL)
    row = session.execute(
        select(
            func.coalesce(func.sum(ListenerStats.bytes_in), 0),
            func.coalesce(func.sum(ListenerStats.bytes_out), 0),
            func.coalesce(func.sum(ListenerStats.active_connections), 0),
            func.coalesce(func.sum(ListenerStats.total_connections), 0),
            func.coalesce(func.sum(ListenerStats.request_errors), 0),
        ).where(ListenerStats.listener_id == listener.id)
    ).one()
    keys = ("bytes_in", "bytes_out", "active_connections", "total_connections", "request_errors")
    return {k: int(val) for k, val in zip(keys, row, strict=True)}
