"""The per-LB work queue, kept in the database with leases (no message broker).

- ``enqueue`` is called in the same transaction as the desired-state write, so a committed write
  always has a queued reconcile (the API can never "forget" to hand work over).
- ``claim`` hands each LB to at most one controller at a time (``FOR UPDATE SKIP LOCKED`` on
  PostgreSQL; SQLite's single writer gives the same), for ``lease_seconds``.
- ``complete`` removes the row only if no write came in meanwhile (``seq`` unchanged); otherwise
  the LB is released and reconciled again at once. A controller killed mid-work simply lets its
  lease expire, and another one (or itself after restart) takes the LB again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from portus.db.models import WorkItem


@dataclass(frozen=True)
class Claim:
    lb_id: str
    seq: int
    attempts: int


def enqueue(session: Session, lb_id: str, now: float, delay: float = 0.0) -> None:
    values = {"lb_id": lb_id, "seq": 1, "not_before": now + delay, "lease_expires": 0.0}
    dialect = session.get_bind().dialect.name
    stmt: Any
    if dialect == "postgresql":
        ins = postgresql.insert(WorkItem).values(**values)
        stmt = ins.on_conflict_do_update(
            index_elements=[WorkItem.lb_id],
            set_={"seq": WorkItem.seq + 1, "not_before": ins.excluded.not_before, "attempts": 0},
        )
    else:
        ins_lite = sqlite.insert(WorkItem).values(**values)
        stmt = ins_lite.on_conflict_do_update(
            index_elements=[WorkItem.lb_id],
            set_={
                "seq": WorkItem.seq + 1,
                "not_before": ins_lite.excluded.not_before,
                "attempts": 0,
            },
        )
    session.execute(stmt)


def claim(
    session: Session, owner: str, now: float, lease_seconds: float, limit: int
) -> list[Claim]:
    stmt = (
        select(WorkItem)
        .where(WorkItem.not_before <= now, WorkItem.lease_expires <= now)
        .order_by(WorkItem.not_before)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    items = list(session.scalars(stmt))
    claims = []
    for item in items:
        item.lease_owner = owner
        item.lease_expires = now + lease_seconds
        item.attempts += 1
        claims.append(Claim(item.lb_id, item.seq, item.attempts))
    return claims


def renew(session: Session, claim: Claim, owner: str, until: float) -> bool:
    result = session.execute(
        update(WorkItem)
        .where(WorkItem.lb_id == claim.lb_id, WorkItem.lease_owner == owner)
        .values(lease_expires=until)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def complete(session: Session, claim: Claim, owner: str) -> bool:
    """Drop the item if nothing was enqueued since the claim; else release it for a rerun."""
    result = session.execute(
        delete(WorkItem).where(
            WorkItem.lb_id == claim.lb_id,
            WorkItem.seq == claim.seq,
            WorkItem.lease_owner == owner,
        )
    )
    if result.rowcount:  # type: ignore[attr-defined]
        return True
    session.execute(
        update(WorkItem)
        .where(WorkItem.lb_id == claim.lb_id, WorkItem.lease_owner == owner)
        .values(lease_owner=None, lease_expires=0.0, attempts=0)
    )
    return False


def retry_later(session: Session, claim: Claim, owner: str, at: float, error: str) -> None:
    session.execute(
        update(WorkItem)
        .where(WorkItem.lb_id == claim.lb_id, WorkItem.lease_owner == owner)
        .values(lease_owner=None, lease_expires=0.0, not_before=at, last_error=error[:2000])
    )


def pending_count(session: Session) -> int:
    return len(list(session.scalars(select(WorkItem.lb_id))))
