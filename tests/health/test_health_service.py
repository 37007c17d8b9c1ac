"""The health process over a real database, fed signed heartbeats on an injectable clock:
statuses written only on change, monotonic stats, failover and the circuit breaker."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from portus.agent.heartbeat import sign
from portus.db.engine import Database
from portus.db.migrate import upgrade
from portus.db.models import (
    Amphora,
    ListenerStats,
    LoadBalancer,
    Member,
    Pool,
    WorkItem,
)
from portus.health.service import HealthOptions, HealthService
from tests.health.health_support import make_lb

KEY = b"test-key"


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    upgrade(url)
    database = Database(url)
    yield database
    database.dispose()


class Sender:
    def __init__(self, clock: Clock, amp: str) -> None:
        self.clock, self.amp, self.seq = clock, amp, 0

    def __call__(self, ids: dict[str, Any], states: tuple[str, str], **stats: int) -> bytes:
        self.seq += 1
        counters = {"rx": 0, "tx": 0, "conns": 0, "totconns": 0, "ereq": 0, **stats}
        body = {
            "id": self.amp,
            "epoch": "e",
            "seq": self.seq,
            "ts": self.clock(),
            "alive": True,
            "netns": True,
            "stats_ok": True,
            "listeners": {ids["listener"]: {"status": "OPEN", "stats": counters}},
            "pools": {
                f"{ids['pool']}:{ids['listener']}": {
                    "status": "UP" if "UP" in states else "DOWN",
                    "members": dict(zip(ids["members"], states, strict=True)),
                }
            },
        }
        return sign(body, KEY)


def statuses(db: Database, ids: dict[str, Any]) -> dict[str, str]:
    with db.read() as s:
        lb = s.get(LoadBalancer, ids["lb"])
        pool = s.get(Pool, ids["pool"])
        m1, m2 = (s.get(Member, m) for m in ids["members"])
        assert lb and pool and m1 and m2
        return {
            "lb": lb.operating_status,
            "pool": pool.operating_status,
            "m1": m1.operating_status,
            "m2": m2.operating_status,
        }


def test_member_down_and_up_rolls_up_and_writes_only_changes(db: Database) -> None:
    clock = Clock()
    ids = make_lb(db)
    health = HealthService(db, KEY, HealthOptions(), clock=clock)
    send = Sender(clock, ids["amps"][0])
    health.receiver.feed(send(ids, ("UP", "DOWN")))
    health.tick()
    assert statuses(db, ids) == {
        "lb": "DEGRADED",
        "pool": "DEGRADED",
        "m1": "ONLINE",
        "m2": "ERROR",
    }
    writes = health.status.writes
    for _ in range(5):
        clock.now += 0.2
        health.receiver.feed(send(ids, ("UP", "DOWN")))
        health.tick()
    assert health.status.writes == writes  # nothing changed, nothing written
    health.receiver.feed(send(ids, ("UP", "UP")))
    health.tick()
    assert statuses(db, ids) == {"lb": "ONLINE", "pool": "ONLINE", "m1": "ONLINE", "m2": "ONLINE"}
    health.receiver.feed(send(ids, ("DOWN", "DOWN")))
    health.tick()
    assert statuses(db, ids)["pool"] == "ERROR"
    assert statuses(db, ids)["lb"] == "ERROR"


def test_stats_are_monotonic_sums_across_sender_restarts(db: Database) -> None:
    clock = Clock()
    ids = make_lb(db)
    health = HealthService(db, KEY, HealthOptions(stats_flush=0), clock=clock)
    send = Sender(clock, ids["amps"][0])
    seen = []
    for rx, tot in ((100, 1), (300, 3), (350, 4)):
        clock.now += 0.5
        health.receiver.feed(send(ids, ("UP", "UP"), rx=rx, totconns=tot, conns=1))
        health.tick()
        with db.read() as s:
            row = s.get(ListenerStats, (ids["listener"], ids["amps"][0]))
            assert row is not None
            seen.append((row.bytes_in, row.total_connections, row.active_connections))
    assert seen == [(100, 1, 1), (300, 3, 1), (350, 4, 1)]
    # The agent restarts: its counters start again from zero in a new epoch.
    send.seq = 0
    clock.now += 0.5
    body = send(ids, ("UP", "UP"), rx=40, totconns=1)
    from portus.agent.heartbeat import verify

    payload = verify(body, KEY)
    payload["epoch"] = "e2"
    health.receiver.feed(sign(payload, KEY))
    health.tick()
    with db.read() as s:
        row = s.get(ListenerStats, (ids["listener"], ids["amps"][0]))
        assert row is not None
        assert (row.bytes_in, row.total_connections) == (390, 5)


def test_silent_amphora_is_failed_over_and_its_lb_queued(db: Database) -> None:
    clock = Clock()
    ids = make_lb(db)
    notified: list[bool] = []
    opts = HealthOptions(heartbeat_timeout=3.0, check_interval=0.5)
    health = HealthService(db, KEY, opts, clock=clock, notify=lambda: notified.append(True))
    send = Sender(clock, ids["amps"][0])
    health.receiver.feed(send(ids, ("UP", "UP")))
    health.tick()
    clock.now += 2.0
    health.tick()
    assert health.failovers == []
    clock.now += 2.0  # 4 s without a heartbeat
    health.tick()
    assert health.failovers == ids["amps"]
    assert notified == [True]
    with db.read() as s:
        amp = s.get(Amphora, ids["amps"][0])
        lb = s.get(LoadBalancer, ids["lb"])
        assert amp and lb
        assert amp.status == "PENDING_DELETE" and "no heartbeat" in (amp.status_reason or "")
        assert lb.provisioning_status == "PENDING_UPDATE"
        assert s.scalar(select(WorkItem.lb_id)) == ids["lb"]


def test_agent_reporting_haproxy_dead_fails_over_without_waiting_for_timeout(db: Database) -> None:
    clock = Clock()
    ids = make_lb(db)
    health = HealthService(db, KEY, HealthOptions(heartbeat_timeout=60, dead_beats=2), clock=clock)
    amp = ids["amps"][0]
    for seq in (1, 2):
        clock.now += 0.2
        health.receiver.feed(
            sign({"id": amp, "epoch": "e", "seq": seq, "ts": clock.now, "alive": False}, KEY)
        )
        health.tick()
    clock.now += 0.5
    health.tick()
    assert health.failovers == [amp]


def test_circuit_breaker_stops_mass_failover_and_releases_when_beats_resume(db: Database) -> None:
    clock = Clock()
    lbs = [make_lb(db) for _ in range(3)]
    opts = HealthOptions(heartbeat_timeout=3.0, failover_threshold=2)
    health = HealthService(db, KEY, opts, clock=clock)
    senders = {ids["amps"][0]: Sender(clock, ids["amps"][0]) for ids in lbs}
    for ids in lbs:
        health.receiver.feed(senders[ids["amps"][0]](ids, ("UP", "UP")))
    health.tick()
    clock.now += 5.0  # all three go silent at once: above the threshold
    health.tick()
    assert health.failovers == []
    with db.read() as s:
        amps = s.scalars(select(Amphora)).all()
        assert {a.status for a in amps} == {"FAILOVER_STOPPED"}
        assert all("circuit breaker" in (a.status_reason or "") for a in amps)
    # Two come back; the one still silent is now below the threshold and is failed over.
    for ids in lbs[:2]:
        health.receiver.feed(senders[ids["amps"][0]](ids, ("UP", "UP")))
    clock.now += 0.6
    health.tick()
    assert health.failovers == [lbs[2]["amps"][0]]
    with db.read() as s:
        back = [s.get(Amphora, ids["amps"][0]) for ids in lbs[:2]]
        assert all(a is not None and a.status == "ALLOCATED" for a in back)
