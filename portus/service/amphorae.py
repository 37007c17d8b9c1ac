"""Amphora admin use cases: inspect, push config again, fail over, remove a broken one.

Portus rule (not Octavia's): failover is refused only while the LB is being deleted; it marks
the amphora for rebuild and queues the LB, and the reconciler replaces it.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from portus import constants as c
from portus.db.models import Amphora, ListenerStats, LoadBalancer, utcnow
from portus.service.common import Services, touch_lb
from portus.service.errors import Conflict, NotFound
from portus.service.policy import RequestContext

LABEL = "Amphora"
STATS_KEYS = ("active_connections", "bytes_in", "bytes_out", "request_errors", "total_connections")
REBUILD = c.PENDING_DELETE


def get(session: Session, ctx: RequestContext, amphora_id: str) -> Amphora:
    ctx.require_admin()
    amp = session.get(Amphora, amphora_id)
    if amp is None or amp.status == c.DELETED:
        raise NotFound(LABEL, amphora_id)
    return amp


def stats(session: Session, ctx: RequestContext, amphora_id: str) -> list[dict[str, object]]:
    """One entry per listener this amphora serves, as the health manager last recorded it."""
    amp = get(session, ctx, amphora_id)
    rows = list(
        session.scalars(
            select(ListenerStats)
            .where(ListenerStats.amphora_id == amp.id)
            .order_by(ListenerStats.listener_id)
        )
    )
    if not rows:
        raise NotFound("Amphora stats for", amp.id)
    return [
        {
            "id": amp.id,
            "listener_id": row.listener_id,
            "loadbalancer_id": row.load_balancer_id,
            **{key: int(getattr(row, key)) for key in STATS_KEYS},
        }
        for row in rows
    ]


def _live_lb(session: Session, amp: Amphora) -> LoadBalancer | None:
    if not amp.load_balancer_id:
        return None
    lb = session.get(LoadBalancer, amp.load_balancer_id)
    if lb is None or lb.provisioning_status == c.DELETED:
        return None
    if lb.provisioning_status == c.PENDING_DELETE:
        raise Conflict(f"Invalid state {lb.provisioning_status} of loadbalancer resource {lb.id}")
    return lb


def configure(svc: Services, session: Session, ctx: RequestContext, amphora_id: str) -> None:
    """Re-render and push the amphora's files: a reconcile of its LB does exactly that."""
    amp = get(session, ctx, amphora_id)
    lb = _live_lb(session, amp)
    if lb is not None:
        touch_lb(svc, session, lb)


def failover(svc: Services, session: Session, ctx: RequestContext, amphora_id: str) -> None:
    amp = get(session, ctx, amphora_id)
    lb = _live_lb(session, amp)
    amp.status = REBUILD
    amp.updated_at = utcnow()
    if lb is not None:
        touch_lb(svc, session, lb)


def delete(svc: Services, session: Session, ctx: RequestContext, amphora_id: str) -> None:
    """Only a broken (ERROR) amphora may be removed by hand; its LB is reconciled again."""
    amp = get(session, ctx, amphora_id)
    if amp.status != c.ERROR:
        raise Conflict(f"Invalid state {amp.status} of amphora resource {amp.id}")
    amp.status = c.DELETED
    amp.updated_at = utcnow()
    lb = session.get(LoadBalancer, amp.load_balancer_id) if amp.load_balancer_id else None
    if lb is not None and lb.provisioning_status not in (c.PENDING_DELETE, c.DELETED):
        touch_lb(svc, session, lb)
