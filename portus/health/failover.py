"""Lost amphorae: who is lost (pure), and the failover request or circuit-breaker stop.

An amphora is lost when it has been silent for ``timeout`` seconds (host gone), or when its own
agent reported ``dead_beats`` times in a row that HAProxy/keepalived or the namespace is gone
(seconds earlier than a timeout). If at least ``threshold`` amphorae are lost in one round, the
cause is more likely the network or this process than the amphorae: none is failed over, all
are marked FAILOVER_STOPPED with a reason (visible in the amphora API) until they beat again.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from portus import constants as c
from portus.db import workqueue
from portus.db.models import Amphora, LoadBalancer, utcnow

log = logging.getLogger("portus.health")

ALLOCATED = "ALLOCATED"
FAILOVER_STOPPED = "FAILOVER_STOPPED"
WATCHED = (ALLOCATED, FAILOVER_STOPPED)
FAILABLE_LB = (c.ACTIVE, c.ERROR)


def to_epoch(value: dt.datetime | None) -> float | None:
    return None if value is None else value.replace(tzinfo=dt.UTC).timestamp()


@dataclass(frozen=True)
class Candidate:
    """What stale detection needs to know about one watched amphora."""

    id: str
    last_seen: float | None  # last heartbeat this process accepted
    db_heartbeat: float | None
    since: float  # when it was last built/changed (grace for a fresh amphora)
    dead_streak: int = 0


@dataclass(frozen=True)
class Lost:
    id: str
    reason: str


def find_lost(
    candidates: Iterable[Candidate], now: float, timeout: float, started: float, dead_beats: int
) -> list[Lost]:
    """Pure: which candidates are lost, and why. ``started`` gives a restarted health
    process one full ``timeout`` before it may call anything silent."""
    lost: list[Lost] = []
    for cand in candidates:
        if cand.dead_streak >= dead_beats:
            lost.append(Lost(cand.id, "its agent reports HAProxy, keepalived or namespace gone"))
            continue
        last = max(x for x in (cand.last_seen, cand.db_heartbeat, cand.since, started) if x)
        if now - last > timeout:
            lost.append(Lost(cand.id, f"no heartbeat for {now - last:.1f}s (timeout {timeout}s)"))
    return lost


def request_failover(session: Session, amp: Amphora, reason: str, now: float) -> bool:
    """Mark ``amp`` for rebuild and queue its LB (as the failover API does). False if the LB
    is busy (a reconcile will run anyway; we look again next round)."""
    lb = session.get(LoadBalancer, amp.load_balancer_id) if amp.load_balancer_id else None
    if lb is None or lb.provisioning_status not in FAILABLE_LB:
        return False
    stamp = utcnow()
    amp.status = c.PENDING_DELETE
    amp.status_reason = f"automatic failover: {reason}"
    amp.updated_at = stamp
    lb.generation += 1
    lb.provisioning_status = c.PENDING_UPDATE
    lb.updated_at = stamp
    workqueue.enqueue(session, lb.id, now)
    return True


def watched(session: Session) -> list[tuple[Amphora, LoadBalancer]]:
    rows = session.execute(
        select(Amphora, LoadBalancer)
        .join(LoadBalancer, Amphora.load_balancer_id == LoadBalancer.id)
        .where(Amphora.status.in_(WATCHED))
        .where(LoadBalancer.provisioning_status.in_(FAILABLE_LB))
    )
    return [(a, lb) for a, lb in rows]


@dataclass
class FailoverOutcome:
    failed_over: list[str]
    stopped: list[str]


def act(
    session: Session,
    lost: list[Lost],
    threshold: int | None,
    now: float,
    amps: dict[str, Amphora],
) -> FailoverOutcome:
    """Fail over the lost amphorae, or stop them all when there are ``threshold`` or more."""
    out = FailoverOutcome([], [])
    if not lost:
        return out
    if threshold is not None and threshold > 0 and len(lost) >= threshold:
        newly = [x for x in lost if amps[x.id].status != FAILOVER_STOPPED]
        for x in newly:
            amp = amps[x.id]
            amp.status = FAILOVER_STOPPED
            amp.status_reason = (
                f"circuit breaker: {len(lost)} amphorae lost at once (threshold {threshold}); "
                f"automatic failover stopped. Last cause: {x.reason}"
            )
            amp.updated_at = utcnow()
            out.stopped.append(x.id)
        if newly:
            log.error(
                "circuit breaker open: %d amphorae lost at once (threshold %d); "
                "not failing over %s",
                len(lost),
                threshold,
                ", ".join(sorted(x.id for x in lost)),
            )
        return out
    for x in lost:
        if request_failover(session, amps[x.id], x.reason, now):
            log.warning("amphora %s lost (%s): failing over", x.id, x.reason)
            out.failed_over.append(x.id)
    return out


Notify = Callable[[], None]
