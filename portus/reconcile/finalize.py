"""Writing a reconcile's outcome back: PENDING_* objects become ACTIVE, DELETED or ERROR.

Finalisation is a compare-and-set on the LB's ``generation``: if a write landed while the data
plane was being driven, nothing is flipped and the (already re-queued) LB is reconciled again, so
a status never claims more than the data plane has.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from portus import constants as c
from portus.db.graph import Child, children, load_lb_graph
from portus.db.models import (
    HealthMonitor,
    IPAllocation,
    L7Policy,
    L7Rule,
    Listener,
    ListenerStats,
    LoadBalancer,
    Member,
    Pool,
    Tag,
    utcnow,
)


def _lock_lb(session: Session, lb_id: str) -> LoadBalancer | None:
    """Lock the LB row for the compare-and-set on ``generation``.

    API writes lock child rows and then the LB (``touch_lb``); finalisation locks the LB and then
    children, so on PostgreSQL the two can deadlock. A short ``deadlock_timeout`` here makes
    the reconciler the one that notices, and so the one that is rolled back: the API request
    succeeds and the reconcile is simply retried.
    """
    stmt = select(LoadBalancer).where(LoadBalancer.id == lb_id)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL deadlock_timeout = '50ms'"))
        stmt = stmt.with_for_update()
    return session.scalars(stmt).one_or_none()


def _drop(session: Session, objs: Iterable[Child]) -> None:
    """Delete rows, deepest first, with their tags."""
    order = (L7Rule, L7Policy, Member, HealthMonitor, Listener, Pool)
    objs = list(objs)
    for kind in order:
        ids = [o.id for o in objs if isinstance(o, kind)]
        if not ids:
            continue
        session.execute(delete(Tag).where(Tag.resource_id.in_(ids)))
        if kind is Listener:
            session.execute(delete(ListenerStats).where(ListenerStats.listener_id.in_(ids)))
        if kind is Pool:
            # Listeners and policies pointing at a dropped pool lose the reference.
            for listener in session.scalars(
                select(Listener).where(Listener.default_pool_id.in_(ids))
            ):
                listener.default_pool_id = None
        session.execute(delete(kind).where(kind.id.in_(ids)))
    session.flush()


def _admin_operating(obj: HealthMonitor | L7Policy | L7Rule) -> str:
    return c.ONLINE if obj.admin_state_up else c.OFFLINE


def finalize_success(session: Session, lb_id: str, generation: int, observes_health: bool) -> bool:
    """Flip the LB's pending objects to their final state. False if a newer write raced us."""
    lb = _lock_lb(session, lb_id)
    if lb is None or lb.generation != generation:
        return False
    graph = load_lb_graph(session, lb_id)
    assert graph is not None
    now = utcnow()
    if graph.provisioning_status == c.PENDING_DELETE:
        _drop(session, children(graph))
        session.execute(delete(Tag).where(Tag.resource_id == lb_id))
        session.execute(delete(IPAllocation).where(IPAllocation.owner_id == lb_id))
        _settle_amphorae(session, graph)
        graph.provisioning_status = c.DELETED
        graph.operating_status = c.OFFLINE
        graph.deleted_at = now
        graph.updated_at = now
        graph.observed_generation = generation
        return True

    doomed = [o for o in children(graph) if o.provisioning_status == c.PENDING_DELETE]
    if doomed:
        _drop(session, doomed)
        session.expire_all()  # relationships still point at the dropped rows
        graph = load_lb_graph(session, lb_id)
        assert graph is not None
    for obj in children(graph):
        if obj.provisioning_status in c.PENDING_STATUSES:
            obj.provisioning_status = c.ACTIVE
            obj.updated_at = now
        if isinstance(obj, HealthMonitor | L7Policy | L7Rule):
            obj.operating_status = _admin_operating(obj)
    if observes_health:
        _applied_operating(graph)
    else:
        _noop_operating(graph)
    _settle_amphorae(session, graph)
    graph.provisioning_status = c.ACTIVE
    graph.status_reason = None
    graph.observed_generation = generation
    graph.updated_at = now
    return True


def _settle_amphorae(session: Session, lb: LoadBalancer) -> None:
    """Built amphorae become ALLOCATED; replaced ones (and all of a deleted LB) DELETED."""
    now = utcnow()
    for amp in lb.amphorae:
        if lb.provisioning_status == c.PENDING_DELETE or amp.status == c.PENDING_DELETE:
            if amp.status != c.DELETED:
                amp.status = c.DELETED
                amp.updated_at = now
                session.execute(delete(IPAllocation).where(IPAllocation.owner_id == amp.id))
        elif amp.status in (c.PENDING_CREATE, "BOOTING"):
            amp.status = "ALLOCATED"
            amp.updated_at = now


def _enabled(obj: LoadBalancer | Listener | Pool) -> str:
    return c.ONLINE if obj.admin_state_up else c.OFFLINE


def _applied_operating(lb: LoadBalancer) -> None:
    """The data plane accepted and probed the config: what is enabled is serving. Members with
    a monitor keep what the health process last saw (it owns them, and rolls them up)."""
    if lb.operating_status in (c.OFFLINE, c.ONLINE):
        lb.operating_status = _enabled(lb)
    for listener in lb.listeners:
        if listener.operating_status in (c.OFFLINE, c.ONLINE):
            listener.operating_status = _enabled(listener) if lb.admin_state_up else c.OFFLINE
    for pool in lb.pools:
        if pool.operating_status in (c.OFFLINE, c.ONLINE):
            pool.operating_status = _enabled(pool) if lb.admin_state_up else c.OFFLINE
        if pool.health_monitor is None:
            for member in pool.members:
                member.operating_status = c.NO_MONITOR if member.admin_state_up else c.OFFLINE


def _noop_operating(lb: LoadBalancer) -> None:
    """Without a data plane to watch, operating status follows admin state (Octavia noop)."""
    for pool in lb.pools:
        has_hm = pool.health_monitor is not None
        for member in pool.members:
            if not has_hm:
                member.operating_status = c.NO_MONITOR
            elif member.operating_status == c.NO_MONITOR:
                member.operating_status = c.OFFLINE


def finalize_error(session: Session, lb_id: str, reason: str) -> None:
    """A permanent failure: pending objects (and the LB) go ERROR, with a readable reason."""
    lb = _lock_lb(session, lb_id)
    if lb is None:
        return
    graph = load_lb_graph(session, lb_id)
    assert graph is not None
    now = utcnow()
    for obj in children(graph):
        if obj.provisioning_status in c.PENDING_STATUSES:
            obj.provisioning_status = c.ERROR
            obj.updated_at = now
    graph.provisioning_status = c.ERROR
    graph.status_reason = reason[:2000]
    graph.updated_at = now
