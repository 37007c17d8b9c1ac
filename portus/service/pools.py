"""Pool use cases: add a pool to an LB (optionally as a listener's default), update, delete."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portus import constants as c
from portus.db.models import HealthMonitor, L7Policy, Listener, LoadBalancer, Member, Pool
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
from portus.service.errors import Conflict
from portus.service.listeners import LB_LABEL, pending_update
from portus.service.policy import RequestContext

LABEL = "Pool"
TLS_FIELDS = (
    "tls_container_ref",
    "ca_tls_container_ref",
    "crl_container_ref",
    "tls_ciphers",
    "tls_versions",
    "alpn_protocols",
)
RESET: dict[str, Any] = {
    "name": None,
    "description": None,
    "tls_enabled": False,
    **dict.fromkeys(TLS_FIELDS),
}


def _tls_state(state: dict[str, Any]) -> dict[str, Any]:
    """Pool TLS tuning: defaults only when re-encryption is on, else only what was sent."""
    v.check_pool_tls(state)
    v.tls_defaults(state, bool(state.get("tls_enabled")))
    return state


def create_in_lb(
    svc: Services,
    session: Session,
    lb: LoadBalancer,
    body: dict[str, Any],
    listener: Listener | None = None,
) -> Pool:
    """Validate and add one pool (PENDING_CREATE); with ``listener`` it becomes its default.

    Health monitor and members in ``body`` are the caller's (graph) business.
    """
    check_quota(svc, session, lb.project_id, "pool")
    protocol = body["protocol"]
    if listener is not None:
        _check_default(listener, protocol)
    state: dict[str, Any] = {"protocol": protocol}
    for key, default in RESET.items():
        value = body.get(key)
        state[key] = default if value is None else value
    _tls_state(state)
    tls_refs.check_pool(svc, session, lb, state)
    pool = Pool(
        project_id=lb.project_id,
        load_balancer_id=lb.id,
        protocol=protocol,
        lb_algorithm=body["lb_algorithm"],
        session_persistence=v.session_persistence(protocol, body.get("session_persistence")),
        admin_state_up=bool(body.get("admin_state_up", True)),
        provisioning_status=c.PENDING_CREATE,
        operating_status=c.OFFLINE,
        **{k: val for k, val in state.items() if k != "protocol"},
    )
    session.add(pool)
    session.flush()
    set_tags(session, pool.id, body.get("tags"), new=True)
    if listener is not None:
        attach_default(listener, pool)
    return pool


def _check_default(listener: Listener, pool_protocol: str) -> None:
    refuse_if_deleting(listener, "Listener")
    v.check_pool_protocol(listener.protocol, pool_protocol)
    if listener.default_pool_id:
        raise Conflict("This listener already has a default pool")


def attach_default(listener: Listener, pool: Pool) -> None:
    """Make ``pool`` the default pool of ``listener`` (which must not have one)."""
    _check_default(listener, pool.protocol)
    listener.default_pool_id = pool.id
    pending_update(listener)


def get_for_write(session: Session, ctx: RequestContext, pool_id: str) -> Pool:
    pool = get_scoped(session, ctx, Pool, pool_id, LABEL)
    ctx.require_write(pool.project_id)
    refuse_if_deleting(pool.load_balancer, LB_LABEL)
    refuse_if_deleting(pool, LABEL)
    return pool


def update(
    svc: Services, session: Session, ctx: RequestContext, pool_id: str, changes: dict[str, Any]
) -> Pool:
    pool = get_for_write(session, ctx, pool_id)
    state: dict[str, Any] = {"protocol": pool.protocol}
    for key, default in RESET.items():
        value = changes[key] if key in changes else getattr(pool, key)
        state[key] = default if value is None else value
    if "tls_enabled" in changes and not state["tls_enabled"] and pool.tls_enabled:
        # Turning re-encryption off drops the tuning that only applied to it.
        for key in ("tls_ciphers", "tls_versions", "alpn_protocols"):
            if key not in changes:
                state[key] = None
    _tls_state(state)
    old = {key: getattr(pool, key) for key in RESET}
    tls_refs.check_pool(svc, session, pool.load_balancer, state, old)
    if "session_persistence" in changes:
        sent = changes["session_persistence"]
        if sent is None:
            pool.session_persistence = None
        else:
            merged = {**(pool.session_persistence or {}), **sent}
            if "type" in sent and sent["type"] != (pool.session_persistence or {}).get("type"):
                # A new type starts from a clean slate (a cookie name of APP_COOKIE does not
                # survive a switch to SOURCE_IP).
                merged = dict(sent)
            pool.session_persistence = v.session_persistence(pool.protocol, merged)
    for key, value in state.items():
        if key != "protocol":
            setattr(pool, key, value)
    if changes.get("lb_algorithm"):
        pool.lb_algorithm = changes["lb_algorithm"]
    if "admin_state_up" in changes:
        pool.admin_state_up = bool(changes["admin_state_up"])
    if "tags" in changes:
        set_tags(session, pool.id, changes["tags"])
    pending_update(pool)
    touch_lb(svc, session, pool.load_balancer)
    return pool


def delete(svc: Services, session: Session, ctx: RequestContext, pool_id: str) -> None:
    """The pool, its members and health monitor go PENDING_DELETE; listeners lose it as
    default pool. Refused (409) while an L7 policy redirects to it."""
    pool = get_for_write(session, ctx, pool_id)
    policy = session.scalars(
        select(L7Policy).where(
            L7Policy.redirect_pool_id == pool.id,
            L7Policy.provisioning_status != c.PENDING_DELETE,
        )
    ).first()
    if policy is not None:
        raise Conflict(f"Pool {pool.id} is in use by L7 policy {policy.id}")
    for member in session.scalars(select(Member).where(Member.pool_id == pool.id)):
        mark(member, c.PENDING_DELETE)
    for hm in session.scalars(select(HealthMonitor).where(HealthMonitor.pool_id == pool.id)):
        mark(hm, c.PENDING_DELETE)
    for listener in session.scalars(select(Listener).where(Listener.default_pool_id == pool.id)):
        listener.default_pool_id = None
        if listener.provisioning_status != c.PENDING_DELETE:
            pending_update(listener)
    mark(pool, c.PENDING_DELETE)
    touch_lb(svc, session, pool.load_balancer)
