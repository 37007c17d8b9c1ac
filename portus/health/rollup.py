"""Operating status from one heartbeat, the way Octavia's status tree shows it (pure).

Rules (octavia-api.md §3.4): a member's HAProxy check state maps to ONLINE / ERROR / DRAINING /
OFFLINE / NO_MONITOR; a pool is ERROR when its backend is DOWN, DEGRADED when UP with a member
in ERROR, OFFLINE when no listener serves it; a listener is ONLINE when its frontend is OPEN,
DEGRADED when FULL, ERROR when an enabled listener of an ACTIVE LB is missing; the LB is ERROR
when a pool or listener is, DEGRADED when any is DEGRADED, else ONLINE (OFFLINE if disabled).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from portus import constants as c

# Listeners HAProxy does not serve (nftables); their state is not in ``show stat``.
NOT_HAPROXY = ("UDP", "SCTP")

MEMBER_STATES = {
    "UP": c.ONLINE,
    "DOWN": c.ERROR,
    "DRAIN": c.DRAINING,
    "MAINT": c.OFFLINE,
    "no check": c.NO_MONITOR,
}


@dataclass(frozen=True)
class MemberView:
    id: str
    admin_up: bool
    operating: str


@dataclass(frozen=True)
class PoolView:
    id: str
    admin_up: bool
    operating: str
    members: tuple[MemberView, ...] = ()


@dataclass(frozen=True)
class ListenerView:
    id: str
    admin_up: bool
    protocol: str
    operating: str


@dataclass(frozen=True)
class LbView:
    id: str
    admin_up: bool
    provisioning: str
    operating: str
    listeners: tuple[ListenerView, ...] = ()
    pools: tuple[PoolView, ...] = ()


Key = tuple[str, str]  # (kind, id), kind in loadbalancer / listener / pool / member


def _pool_reports(pools: Mapping[str, Any]) -> dict[str, list[Mapping[str, Any]]]:
    """Heartbeat backends grouped by pool id (a pool has one backend per listener)."""
    out: dict[str, list[Mapping[str, Any]]] = {}
    for key, entry in pools.items():
        if isinstance(entry, Mapping):
            out.setdefault(key.split(":", 1)[0], []).append(entry)
    return out


def _member(m: MemberView, seen: list[str]) -> str:
    if not m.admin_up:
        return c.OFFLINE
    if not seen:
        return c.NO_MONITOR if m.operating == c.NO_MONITOR else c.OFFLINE
    states = [MEMBER_STATES.get(s) for s in seen]
    known = [s for s in states if s is not None]
    if not known:  # e.g. RESTARTING: keep what we had
        return m.operating
    for worst in (c.ERROR, c.DRAINING, c.ONLINE, c.NO_MONITOR, c.OFFLINE):
        if worst in known:
            return worst
    return known[0]


def _pool(p: PoolView, reports: list[Mapping[str, Any]], members: dict[str, str]) -> str:
    if not p.admin_up or not reports:
        return c.OFFLINE
    if any(r.get("status") == "DOWN" for r in reports):
        return c.ERROR
    if any(s == c.ERROR for s in members.values()):
        return c.DEGRADED
    return c.ONLINE


def _listener(li: ListenerView, lb: LbView, report: Mapping[str, Any] | None) -> str:
    if not li.admin_up or not lb.admin_up:
        return c.OFFLINE
    if li.protocol in NOT_HAPROXY and report is None:
        return li.operating
    if report is None:
        return c.ERROR if lb.provisioning == c.ACTIVE else li.operating
    status = str(report.get("status", ""))
    if status == "FULL":
        return c.DEGRADED
    if status == "OPEN":
        return c.ONLINE
    return c.ERROR


def rollup(lb: LbView, heartbeat: Mapping[str, Any]) -> dict[Key, str]:
    """The operating status every object of ``lb`` should have after ``heartbeat``."""
    out: dict[Key, str] = {}
    hb_listeners = heartbeat.get("listeners") or {}
    hb_pools = _pool_reports(heartbeat.get("pools") or {})
    for p in lb.pools:
        reports = hb_pools.get(p.id, [])
        states: dict[str, str] = {}
        for m in p.members:
            seen = [
                str(r["members"][m.id])
                for r in reports
                if isinstance(r.get("members"), Mapping) and m.id in r["members"]
            ]
            states[m.id] = _member(m, seen)
            out[("member", m.id)] = states[m.id]
        out[("pool", p.id)] = _pool(p, reports, states)
    for li in lb.listeners:
        out[("listener", li.id)] = _listener(li, lb, hb_listeners.get(li.id))
    if not lb.admin_up:
        out[("loadbalancer", lb.id)] = c.OFFLINE
        return out
    children = [v for k, v in out.items() if k[0] in ("pool", "listener")]
    if c.ERROR in children:
        out[("loadbalancer", lb.id)] = c.ERROR
    elif c.DEGRADED in children:
        out[("loadbalancer", lb.id)] = c.DEGRADED
    else:
        out[("loadbalancer", lb.id)] = c.ONLINE
    return out


def current(lb: LbView) -> dict[Key, str]:
    """The statuses ``lb`` has now, keyed like ``rollup``'s answer."""
    out: dict[Key, str] = {("loadbalancer", lb.id): lb.operating}
    for li in lb.listeners:
        out[("listener", li.id)] = li.operating
    for p in lb.pools:
        out[("pool", p.id)] = p.operating
        for m in p.members:
            out[("member", m.id)] = m.operating
    return out


def changes(lb: LbView, heartbeat: Mapping[str, Any]) -> dict[Key, str]:
    """Only what differs from the current statuses (the health process writes nothing else)."""
    now = current(lb)
    return {k: v for k, v in rollup(lb, heartbeat).items() if now.get(k) != v}
