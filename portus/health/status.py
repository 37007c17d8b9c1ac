"""Applying heartbeats to the database: operating statuses, written only when they change.

Most heartbeats repeat the previous one; a digest of the reported states per amphora lets
those skip the database entirely (re-checked every ``resync`` seconds, and whenever the LB's
``generation`` moved, so a config change is always reflected).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from portus import constants as c
from portus.db.models import Listener, LoadBalancer, Member, Pool
from portus.health.rollup import Key, LbView, ListenerView, MemberView, PoolView, changes

WATCHED_LB = (c.ACTIVE, c.PENDING_UPDATE, c.ERROR)
MODELS: dict[str, Any] = {
    "loadbalancer": LoadBalancer,
    "listener": Listener,
    "pool": Pool,
    "member": Member,
}


def digest(payload: Mapping[str, Any]) -> str:
    """What the statuses depend on (states, not counters)."""
    states = {
        "l": {k: v.get("status") for k, v in (payload.get("listeners") or {}).items()},
        "p": payload.get("pools") or {},
    }
    return hashlib.blake2b(json.dumps(states, sort_keys=True).encode(), digest_size=12).hexdigest()


def view_of(lb: LoadBalancer) -> LbView:
    """The status-relevant part of a loaded LB graph."""
    live = (c.PENDING_DELETE, c.DELETED)
    return LbView(
        id=lb.id,
        admin_up=lb.admin_state_up,
        provisioning=lb.provisioning_status,
        operating=lb.operating_status,
        listeners=tuple(
            ListenerView(li.id, li.admin_state_up, li.protocol, li.operating_status)
            for li in lb.listeners
            if li.provisioning_status not in live
        ),
        pools=tuple(
            PoolView(
                p.id,
                p.admin_state_up,
                p.operating_status,
                tuple(
                    MemberView(m.id, m.admin_state_up, m.operating_status)
                    for m in p.members
                    if m.provisioning_status not in live
                ),
            )
            for p in lb.pools
            if p.provisioning_status not in live
        ),
    )


def load_view(session: Session, lb: LoadBalancer) -> LbView:
    """``view_of`` in three column-only queries (no ORM graph: this runs per heartbeat)."""
    gone = (c.PENDING_DELETE, c.DELETED)
    listeners = session.execute(
        select(Listener.id, Listener.admin_state_up, Listener.protocol, Listener.operating_status)
        .where(Listener.load_balancer_id == lb.id, Listener.provisioning_status.not_in(gone))
        .order_by(Listener.created_at)
    ).all()
    pools = session.execute(
        select(Pool.id, Pool.admin_state_up, Pool.operating_status)
        .where(Pool.load_balancer_id == lb.id, Pool.provisioning_status.not_in(gone))
        .order_by(Pool.created_at)
    ).all()
    members: dict[str, list[MemberView]] = {}
    if pools:
        for pool_id, mid, up, op in session.execute(
            select(Member.pool_id, Member.id, Member.admin_state_up, Member.operating_status)
            .where(Member.pool_id.in_([p[0] for p in pools]))
            .where(Member.provisioning_status.not_in(gone))
            .order_by(Member.created_at)
        ):
            members.setdefault(pool_id, []).append(MemberView(mid, up, op))
    return LbView(
        id=lb.id,
        admin_up=lb.admin_state_up,
        provisioning=lb.provisioning_status,
        operating=lb.operating_status,
        listeners=tuple(ListenerView(*row) for row in listeners),
        pools=tuple(PoolView(pid, up, op, tuple(members.get(pid, []))) for pid, up, op in pools),
    )


def write_changes(session: Session, found: Mapping[Key, str]) -> None:
    by_kind: dict[tuple[str, str], list[str]] = {}
    for (kind, obj_id), status in found.items():
        by_kind.setdefault((kind, status), []).append(obj_id)
    for (kind, status), ids in by_kind.items():
        model = MODELS[kind]
        session.execute(
            update(model).where(model.id.in_(ids)).values(operating_status=status),
            execution_options={"synchronize_session": False},
        )


@dataclass
class _Seen:
    digest: str
    generation: int
    at: float


class StatusWriter:
    def __init__(self, resync: float = 10.0) -> None:
        self.resync = resync
        self._seen: dict[str, _Seen] = {}
        self.writes = 0

    def apply(
        self,
        session: Session,
        amp_id: str,
        lb: LoadBalancer,
        payload: Mapping[str, Any],
        now: float,
    ) -> dict[Key, str]:
        """Bring the LB's statuses in line with ``payload``; returns what was written."""
        if lb.provisioning_status not in WATCHED_LB or payload.get("stats_ok") is False:
            return {}
        d = digest(payload)
        seen = self._seen.get(amp_id)
        if (
            seen is not None
            and seen.digest == d
            and seen.generation == lb.generation
            and now - seen.at < self.resync
        ):
            return {}
        found = changes(load_view(session, lb), payload)
        if found:
            write_changes(session, found)
            self.writes += 1
        self._seen[amp_id] = _Seen(d, lb.generation, now)
        return found

    def forget(self, amp_id: str) -> None:
        self._seen.pop(amp_id, None)
