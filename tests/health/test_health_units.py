"""Heartbeat envelope, anti-replay, HAProxy stat parsing, status roll-up and stale detection,
without a data plane (pure functions and an injectable clock)."""

from __future__ import annotations

import pytest

from portus.agent.heartbeat import (
    BadSignature,
    CounterFolder,
    parse_show_stat,
    sign,
    stat_report,
    verify,
)
from portus.health.failover import Candidate, find_lost
from portus.health.receiver import Receiver
from portus.health.rollup import LbView, ListenerView, MemberView, PoolView, changes, rollup

KEY = b"k" * 32

HEADER = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,"
SHOW_STAT = (
    HEADER
    + """wretr,wredis,status,weight,act,bck
L1,FRONTEND,,,2,5,8000,40,1000,2000,0,0,3,,,,,OPEN,,,
P1:L1,m1,0,0,1,2,,20,500,900,,0,,0,0,0,0,UP,1,1,0
P1:L1,m2,0,0,0,2,,20,500,900,,0,,0,0,0,0,DOWN 1/3,1,1,0
P1:L1,m3,0,0,0,0,,0,0,0,,0,,0,0,0,0,UP,0,1,0
P1:L1,m4,0,0,0,0,,0,0,0,,0,,0,0,0,0,MAINT,1,1,0
P1:L1,m5,0,0,0,0,,0,0,0,,0,,0,0,0,0,no check,1,1,0
P1:L1,BACKEND,0,0,1,2,,40,1000,2000,0,0,,0,0,0,0,UP,3,3,0
"""
)


def beat(amp: str = "a1", seq: int = 1, ts: float = 1000.0, epoch: str = "e1") -> dict[str, object]:
    return {"id": amp, "epoch": epoch, "seq": seq, "ts": ts, "alive": True, "netns": True}


def test_signed_heartbeat_round_trips_and_a_wrong_key_or_tamper_is_refused() -> None:
    data = sign(beat(), KEY)
    assert verify(data, KEY)["id"] == "a1"
    with pytest.raises(BadSignature):
        verify(data, b"other key")
    tampered = bytes([data[0] ^ 1]) + data[1:]
    with pytest.raises(BadSignature):
        verify(tampered, KEY)


def test_receiver_counts_forged_replayed_and_stale_heartbeats() -> None:
    now = [1000.0]
    rx = Receiver(KEY, lambda: now[0], max_skew=5)
    assert rx.feed(sign(beat(seq=1), KEY)) == "accepted"
    assert rx.feed(sign(beat(seq=1), KEY)) == "replayed"  # same datagram again
    assert rx.feed(sign(beat(seq=2), b"forger")) == "forged"
    assert rx.feed(sign(beat(seq=3, ts=900.0), KEY)) == "stale"  # outside the skew window
    assert rx.feed(sign(beat(seq=2), KEY)) == "accepted"
    # A restarted sender (new epoch) is accepted only with a newer timestamp.
    assert rx.feed(sign(beat(seq=1, epoch="e0", ts=999.0), KEY)) == "replayed"
    assert rx.feed(sign(beat(seq=1, epoch="e2", ts=1001.0), KEY)) == "accepted"
    assert rx.counters == {"accepted": 3, "replayed": 2, "forged": 1, "stale": 1}
    assert rx.queue.qsize() == 3


def test_show_stat_becomes_listener_and_member_states() -> None:
    listeners, pools = stat_report(parse_show_stat(SHOW_STAT))
    assert listeners["L1"]["status"] == "OPEN"
    assert listeners["L1"]["stats"] == {
        "rx": 1000,
        "tx": 2000,
        "conns": 2,
        "totconns": 40,
        "ereq": 3,
    }
    assert pools["P1:L1"]["status"] == "UP"
    assert pools["P1:L1"]["members"] == {
        "m1": "UP",
        "m2": "DOWN",
        "m3": "DRAIN",  # UP with weight 0
        "m4": "MAINT",
        "m5": "no check",
    }


def test_counters_stay_cumulative_across_a_reload() -> None:
    folder = CounterFolder()
    raw = {"rx": 100, "tx": 200, "conns": 3, "totconns": 10, "ereq": 1}
    assert folder.fold("a", "L", raw)["rx"] == 100
    # New worker after a reload starts from zero: totals keep growing.
    after = folder.fold("a", "L", {"rx": 5, "tx": 6, "conns": 1, "totconns": 2, "ereq": 0})
    assert after == {"rx": 105, "tx": 206, "conns": 1, "totconns": 12, "ereq": 1}


def lb_view(members: tuple[str, ...] = ("m1", "m2")) -> LbView:
    return LbView(
        id="LB",
        admin_up=True,
        provisioning="ACTIVE",
        operating="ONLINE",
        listeners=(ListenerView("L1", True, "HTTP", "ONLINE"),),
        pools=(
            PoolView("P1", True, "ONLINE", tuple(MemberView(m, True, "ONLINE") for m in members)),
        ),
    )


def hb(members: dict[str, str], backend: str = "UP", frontend: str = "OPEN") -> dict[str, object]:
    return {
        "listeners": {"L1": {"status": frontend}},
        "pools": {"P1:L1": {"status": backend, "members": members}},
    }


def test_one_member_down_degrades_pool_and_lb() -> None:
    out = rollup(lb_view(), hb({"m1": "UP", "m2": "DOWN"}))
    assert out[("member", "m2")] == "ERROR"
    assert out[("member", "m1")] == "ONLINE"
    assert out[("pool", "P1")] == "DEGRADED"
    assert out[("listener", "L1")] == "ONLINE"
    assert out[("loadbalancer", "LB")] == "DEGRADED"
    # Only what changed is returned for writing.
    assert changes(lb_view(), hb({"m1": "UP", "m2": "DOWN"})) == {
        ("member", "m2"): "ERROR",
        ("pool", "P1"): "DEGRADED",
        ("loadbalancer", "LB"): "DEGRADED",
    }
    assert changes(lb_view(), hb({"m1": "UP", "m2": "UP"})) == {}


def test_all_members_down_is_pool_error_and_lb_error() -> None:
    out = rollup(lb_view(), hb({"m1": "DOWN", "m2": "DOWN"}, backend="DOWN"))
    assert out[("pool", "P1")] == "ERROR"
    assert out[("loadbalancer", "LB")] == "ERROR"


def test_drain_maint_no_check_and_missing_members() -> None:
    view = lb_view(("m1", "m2", "m3", "m4"))
    out = rollup(view, hb({"m1": "DRAIN", "m2": "MAINT", "m3": "no check"}))
    assert out[("member", "m1")] == "DRAINING"
    assert out[("member", "m2")] == "OFFLINE"
    assert out[("member", "m3")] == "NO_MONITOR"
    assert out[("member", "m4")] == "OFFLINE"  # not in the heartbeat


def test_full_listener_degrades_and_missing_listener_is_error() -> None:
    assert rollup(lb_view(), hb({"m1": "UP"}, frontend="FULL"))[("listener", "L1")] == "DEGRADED"
    out = rollup(lb_view(), {"listeners": {}, "pools": {}})
    assert out[("listener", "L1")] == "ERROR"
    assert out[("pool", "P1")] == "OFFLINE"
    assert out[("loadbalancer", "LB")] == "ERROR"


def test_stale_detection_uses_timeout_dead_reports_and_a_start_grace() -> None:
    cands = [
        Candidate("fresh", last_seen=99.0, db_heartbeat=None, since=0.0),
        Candidate("silent", last_seen=90.0, db_heartbeat=None, since=0.0),
        Candidate("dead", last_seen=99.5, db_heartbeat=None, since=0.0, dead_streak=2),
        Candidate("new", last_seen=None, db_heartbeat=None, since=98.0),
    ]
    lost = find_lost(cands, now=100.0, timeout=5.0, started=0.0, dead_beats=2)
    assert sorted(x.id for x in lost) == ["dead", "silent"]
    # A health process that just started waits a full timeout before calling anyone silent.
    lost = find_lost(cands, now=100.0, timeout=5.0, started=97.0, dead_beats=2)
    assert [x.id for x in lost] == ["dead"]
