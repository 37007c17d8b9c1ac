"""Writing a reconcile's outcome back: PENDING_* objects become ACTIVE, DELETED or ERROR.

Finalisation is a compare-and-set on the LB's ``generation``: if a write landed while the data
plane was being driven, nothing is flipped and the (already re-queued) LB is reconciled again, so
a status never claims more than the data plane has.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import CursorResult, Table, delete, select, text, update
from sqlalchemy.orm import Session

from portus import constants as c
from portus.db.graph import Child, children, load_lb_graph
from portus.db.models import (
    Amphora,
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


def _enabled(obj: LoadBalancer | Listener | Pool) -> str:
    return c.ONLINE if obj.admin_state_up else c.OFFLINE


Row = LoadBalancer | Child | Amphora


def _targets(lb: LoadBalancer, observes_health: bool) -> dict[Row, dict[str, Any]]:
    """The column values finalising ``lb`` wants on each row it may change (pure: reads the
    graph, writes nothing). Rows already holding a wanted value are filtered by ``changes``."""
    want: dict[Row, dict[str, Any]] = {}

    def put(obj: Row, **values: Any) -> None:
        want.setdefault(obj, {}).update(values)

    for obj in children(lb):
        if obj.provisioning_status in c.PENDING_STATUSES:
            put(obj, provisioning_status=c.ACTIVE)
        if isinstance(obj, HealthMonitor | L7Policy | L7Rule):
            put(obj, operating_status=_admin_operating(obj))
    if observes_health:
        # The data plane accepted and probed the config: what is enabled is serving. Members
        # with a monitor keep what the health process last saw (it owns them, rolls them up).
        if lb.operating_status in (c.OFFLINE, c.ONLINE):
            put(lb, operating_status=_enabled(lb))
        for listener in lb.listeners:
            if listener.operating_status in (c.OFFLINE, c.ONLINE):
                put(
                    listener,
                    operating_status=_enabled(listener) if lb.admin_state_up else c.OFFLINE,
                )
        for pool in lb.pools:
            if pool.operating_status in (c.OFFLINE, c.ONLINE):
                put(pool, operating_status=_enabled(pool) if lb.admin_state_up else c.OFFLINE)
            if pool.health_monitor is None:
                for member in pool.members:
                    put(
                        member,
                        operating_status=c.NO_MONITOR if member.admin_state_up else c.OFFLINE,
                    )
    else:
        # Without a data plane to watch, operating status follows admin state (Octavia noop).
        for pool in lb.pools:
            for member in pool.members:
                if pool.health_monitor is None:
                    put(member, operating_status=c.NO_MONITOR)
                elif member.operating_status == c.NO_MONITOR:
                    put(member, operating_status=c.OFFLINE)
    for amp in lb.amphorae:
        # Built amphorae become ALLOCATED; replaced ones DELETED.
        if amp.status == c.PENDING_DELETE:
            put(amp, status=c.DELETED)
        elif amp.status in (c.PENDING_CREATE, "BOOTING"):
            put(amp, status="ALLOCATED")
    return want


def changes(lb: LoadBalancer, observes_health: bool) -> list[tuple[Row, dict[str, Any]]]:
    """``_targets`` minus what the rows already hold; a status flip also stamps updated_at."""
    now = utcnow()
    out: list[tuple[Row, dict[str, Any]]] = []
    for obj, values in _targets(lb, observes_health).items():
        changed = {k: v for k, v in values.items() if getattr(obj, k) != v}
        if not changed or obj is lb:
            continue
        if "provisioning_status" in changed or "status" in changed:
            changed["updated_at"] = now
        out.append((obj, changed))
    return out


def _settle_lb(lb: LoadBalancer, generation: int, observes_health: bool) -> dict[str, Any]:
    values = {
        "provisioning_status": c.ACTIVE,
        "status_reason": None,
        "observed_generation": generation,
        "updated_at": utcnow(),
    }
    if observes_health and lb.operating_status in (c.OFFLINE, c.ONLINE):
        values["operating_status"] = _enabled(lb)
    return values


def _doomed(lb: LoadBalancer) -> list[Child]:
    return [o for o in children(lb) if o.provisioning_status == c.PENDING_DELETE]


def finalize_success(
    session: Session,
    lb_id: str,
    generation: int,
    observes_health: bool,
    graph: LoadBalancer | None = None,
) -> bool:
    """Flip the LB's pending objects to their final state. False if a newer write raced us.

    ``graph``: the graph the reconcile read at ``generation`` (detached is fine). When the
    outcome drops nothing, the flips are computed from it and written as targeted UPDATEs:
    the compare-and-set on ``generation`` proves no API write changed it since, so there is
    no need to read it again (that second load was most of a reconcile's cost).
    """
    if (
        graph is not None
        and graph.generation == generation
        and graph.provisioning_status != c.PENDING_DELETE
        and not _doomed(graph)
    ):
        return _finalize_from(session, graph, generation, observes_health)
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
        for amp in graph.amphorae:
            if amp.status != c.DELETED:
                amp.status = c.DELETED
                amp.updated_at = now
                session.execute(delete(IPAllocation).where(IPAllocation.owner_id == amp.id))
        graph.provisioning_status = c.DELETED
        graph.operating_status = c.OFFLINE
        graph.deleted_at = now
        graph.updated_at = now
        graph.observed_generation = generation
        return True

    if doomed := _doomed(graph):
        _drop(session, doomed)
        session.expire_all()  # relationships still point at the dropped rows
        graph = load_lb_graph(session, lb_id)
        assert graph is not None
    for obj, values in changes(graph, observes_health):
        for key, value in values.items():
            setattr(obj, key, value)
        if isinstance(obj, Amphora) and values.get("status") == c.DELETED:
            session.execute(delete(IPAllocation).where(IPAllocation.owner_id == obj.id))
    for key, value in _settle_lb(graph, generation, observes_health).items():
        setattr(graph, key, value)
    return True


def _finalize_from(
    session: Session, graph: LoadBalancer, generation: int, observes_health: bool
) -> bool:
    """The fast path of ``finalize_success``: a CAS on the LB row, then one UPDATE per
    changed row, each guarded by the values it was computed from (the health process may
    have written an operating status meanwhile; then that row is left as it found it)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL deadlock_timeout = '50ms'"))  # see _lock_lb
    lb_table = cast(Table, LoadBalancer.__table__)
    won: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(lb_table)
        .where(lb_table.c.id == graph.id, lb_table.c.generation == generation)
        .values(**_settle_lb(graph, generation, observes_health))
    )
    if won.rowcount != 1:
        return False
    for obj, values in changes(graph, observes_health):
        table = cast(Table, type(obj).__table__)
        guard = [table.c[k] == getattr(obj, k) for k in values if k != "updated_at"]
        session.execute(update(table).where(table.c.id == obj.id, *guard).values(**values))
        if isinstance(obj, Amphora) and values.get("status") == c.DELETED:
            session.execute(delete(IPAllocation).where(IPAllocation.owner_id == obj.id))
    return True


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
