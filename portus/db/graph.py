"""Loading one LB's whole desired graph in a handful of queries."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from portus.db.models import HealthMonitor, L7Policy, L7Rule, Listener, LoadBalancer, Member, Pool

Child = Listener | Pool | Member | HealthMonitor | L7Policy | L7Rule


def load_lb_graph(session: Session, lb_id: str) -> LoadBalancer | None:
    stmt = (
        select(LoadBalancer)
        .where(LoadBalancer.id == lb_id)
        .options(
            selectinload(LoadBalancer.listeners)
            .selectinload(Listener.l7policies)
            .selectinload(L7Policy.rules),
            selectinload(LoadBalancer.pools).selectinload(Pool.members),
            selectinload(LoadBalancer.pools).selectinload(Pool.health_monitor),
            selectinload(LoadBalancer.amphorae),
        )
    )
    return session.scalars(stmt).one_or_none()


def children(lb: LoadBalancer) -> list[Child]:
    """Every child object of the LB, parents before their children."""
    out: list[Child] = []
    for listener in lb.listeners:
        out.append(listener)
        for policy in listener.l7policies:
            out.append(policy)
            out.extend(policy.rules)
    for pool in lb.pools:
        out.append(pool)
        if pool.health_monitor is not None:
            out.append(pool.health_monitor)
        out.extend(pool.members)
    return out
