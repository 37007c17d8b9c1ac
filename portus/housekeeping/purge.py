"""Purge soft-deleted rows once they are older than the configured expiry.

Deleted LBs and amphorae are kept (Octavia-style) so operators can still look them up for a
while; after ``expiry`` seconds they, and the stats rows that only they referenced, go.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from portus import constants as c
from portus.db.models import Amphora, ListenerStats, LoadBalancer, WorkItem


@dataclass(frozen=True)
class Purged:
    load_balancers: int
    amphorae: int


def purge_deleted(session: Session, now: dt.datetime, expiry: float) -> Purged:
    """Delete DELETED amphorae and LBs whose last change is older than ``now - expiry``."""
    cutoff = now - dt.timedelta(seconds=expiry)
    amp_ids = list(
        session.scalars(
            select(Amphora.id).where(
                Amphora.status == c.DELETED,
                (Amphora.updated_at.is_(None) & (Amphora.created_at < cutoff))
                | (Amphora.updated_at < cutoff),
            )
        )
    )
    if amp_ids:
        session.execute(delete(ListenerStats).where(ListenerStats.amphora_id.in_(amp_ids)))
        session.execute(delete(Amphora).where(Amphora.id.in_(amp_ids)))
    lb_ids = list(
        session.scalars(
            select(LoadBalancer.id).where(
                LoadBalancer.provisioning_status == c.DELETED,
                LoadBalancer.deleted_at < cutoff,
            )
        )
    )
    if lb_ids:
        # Amphorae of a purged LB are DELETED too (or were just purged); detach any left.
        for amp in session.scalars(select(Amphora).where(Amphora.load_balancer_id.in_(lb_ids))):
            amp.load_balancer_id = None
        session.execute(delete(ListenerStats).where(ListenerStats.load_balancer_id.in_(lb_ids)))
        session.execute(delete(WorkItem).where(WorkItem.lb_id.in_(lb_ids)))
        session.execute(delete(LoadBalancer).where(LoadBalancer.id.in_(lb_ids)))
    return Purged(len(lb_ids), len(amp_ids))
