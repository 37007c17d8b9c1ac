"""Listener statistics from cumulative heartbeat counters, written in batches.

Senders report totals per (listener, amphora) that only grow within an ``epoch``; the
difference to the previous report is added to the ``listener_stats`` row, so the API's sums
stay monotonic across HAProxy reloads, agent restarts and lost datagrams. A row this process
has not seen before only takes a baseline (the row may already count that traffic).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from portus.db.models import Listener, ListenerStats

TOTALS = {
    "rx": "bytes_in",
    "tx": "bytes_out",
    "totconns": "total_connections",
    "ereq": "request_errors",
}


@dataclass
class _Pending:
    lb_id: str
    delta: dict[str, int]
    conns: int
    first: dict[str, int] | None


@dataclass
class StatsAccumulator:
    last: dict[tuple[str, str], tuple[str, dict[str, int]]] = field(default_factory=dict)
    pending: dict[tuple[str, str], _Pending] = field(default_factory=dict)

    def observe(self, amp_id: str, lb_id: str, epoch: str, listeners: Mapping[str, object]) -> None:
        for lid, entry in listeners.items():
            stats = entry.get("stats") if isinstance(entry, Mapping) else None
            if not isinstance(stats, Mapping):
                continue
            cur = {k: int(stats.get(k, 0) or 0) for k in (*TOTALS, "conns")}
            key = (lid, amp_id)
            prev = self.last.get(key)
            self.last[key] = (epoch, cur)
            pend = self.pending.get(key)
            if pend is None:
                pend = self.pending[key] = _Pending(lb_id, dict.fromkeys(TOTALS, 0), 0, None)
            pend.conns = cur["conns"]
            if prev is None:
                pend.first = {k: cur[k] for k in TOTALS}
                continue
            same = prev[0] == epoch and all(cur[k] >= prev[1][k] for k in TOTALS)
            for k in TOTALS:
                pend.delta[k] += cur[k] - prev[1][k] if same else cur[k]

    def flush(self, session: Session) -> int:
        """Write what accumulated; returns the number of rows touched."""
        if not self.pending:
            return 0
        pending, self.pending = self.pending, {}
        listener_ids = {lid for lid, _ in pending}
        alive = set(session.scalars(select(Listener.id).where(Listener.id.in_(listener_ids))))
        touched = 0
        for (lid, amp_id), pend in pending.items():
            if lid not in alive:
                continue
            row = session.get(ListenerStats, (lid, amp_id))
            if row is None:
                start = pend.first or dict.fromkeys(TOTALS, 0)
                row = ListenerStats(
                    listener_id=lid,
                    amphora_id=amp_id,
                    load_balancer_id=pend.lb_id,
                    active_connections=pend.conns,
                    **{col: start[k] + pend.delta[k] for k, col in TOTALS.items()},
                )
                session.add(row)
                touched += 1
                continue
            changed = row.active_connections != pend.conns
            row.active_connections = pend.conns
            for k, col in TOTALS.items():
                if pend.delta[k]:
                    setattr(row, col, int(getattr(row, col)) + pend.delta[k])
                    changed = True
            touched += int(changed)
        return touched

    def forget(self, amp_id: str) -> None:
        for store in (self.last, self.pending):
            for key in [k for k in store if k[1] == amp_id]:
                del store[key]
