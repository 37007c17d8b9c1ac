"""Health process throughput: signed heartbeats/s absorbed for N simulated amphorae.

Builds N ACTIVE LBs (one listener, one pool, two members, one ALLOCATED amphora each) in a
throw-away SQLite database, then feeds ROUNDS rounds of one heartbeat per amphora through the
real receiver (HMAC verify + anti-replay) and processor (status roll-up, stats), on a clock
that advances one heartbeat interval per round. Reports beats/s and that no failover fired.

    .venv/bin/python bench/health.py [N] [ROUNDS]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from portus.agent.heartbeat import sign
from portus.db.engine import Database
from portus.db.migrate import upgrade
from portus.health.service import HealthOptions, HealthService
from tests.health.health_support import make_lb

KEY = b"bench-key"


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    tmp = Path(tempfile.mkdtemp(prefix="portus-bench-"))
    url = f"sqlite:///{tmp / 'bench.db'}"
    upgrade(url)
    db = Database(url)
    lbs = [make_lb(db) for _ in range(n)]
    now = [time.time()]
    health = HealthService(
        db, KEY, HealthOptions(heartbeat_timeout=5.0, stats_flush=1.0), clock=lambda: now[0]
    )
    total, busy = 0, 0.0
    per_round: list[float] = []
    for r in range(rounds):
        datagrams = []
        for ids in lbs:
            body = {
                "id": ids["amps"][0], "epoch": "e", "seq": r + 1, "ts": now[0], "alive": True,
                "netns": True, "stats_ok": True,
                "listeners": {ids["listener"]: {"status": "OPEN", "stats": {
                    "rx": 1000 * r, "tx": 2000 * r, "conns": 1, "totconns": 10 * r, "ereq": 0}}},
                "pools": {f"{ids['pool']}:{ids['listener']}": {"status": "UP", "members": {
                    m: ("DOWN" if r == 3 and i == 0 else "UP")
                    for i, m in enumerate(ids["members"])}}},
            }  # fmt: skip
            datagrams.append(sign(body, KEY))
        started = time.perf_counter()
        for d in datagrams:
            health.receiver.feed(d)
        while not health.receiver.queue.empty():
            health.tick()
        health.flush_stats()
        health.check()
        per_round.append(time.perf_counter() - started)
        busy += per_round[-1]
        total += len(datagrams)
        now[0] += 1.0
    print(f"amphorae={n} rounds={rounds} heartbeats={total}")
    print(f"absorbed {total / busy:,.0f} heartbeats/s (verify + replay check + status + stats)")
    steady = [t for i, t in enumerate(per_round) if i not in (0, 3, 4)]  # no state change
    if steady:
        print(f"steady state (states unchanged): {n * len(steady) / sum(steady):,.0f} heartbeats/s")
    slowest = max(per_round[0], per_round[min(3, rounds - 1)])
    print(f"rounds with a status change: {n / slowest:,.0f}+ heartbeats/s")
    print(f"counters={dict(health.receiver.counters)} status_writes={health.status.writes}")
    print(f"failovers={len(health.failovers)} stopped={len(health.stopped)}")
    db.dispose()


if __name__ == "__main__":
    main()
