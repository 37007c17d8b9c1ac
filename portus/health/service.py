"""The health process: receiver thread + one processor thread over the database.

The processor drains the receiver's queue in batches (keeping per-amphora order), applies the
latest state of each amphora once per batch, flushes statistics every ``stats_flush`` seconds
in one transaction and looks for lost amphorae every ``check_interval`` seconds. Every step
takes the clock as a parameter, so timing logic is tested without sleeping.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from portus.db.engine import Database
from portus.db.models import Amphora, LoadBalancer
from portus.health.failover import (
    ALLOCATED,
    FAILOVER_STOPPED,
    Candidate,
    FailoverOutcome,
    act,
    find_lost,
    to_epoch,
    watched,
)
from portus.health.receiver import Beat, Receiver
from portus.health.stats import StatsAccumulator
from portus.health.status import StatusWriter

log = logging.getLogger("portus.health")

Clock = Callable[[], float]


@dataclass(frozen=True)
class HealthOptions:
    bind: str = "127.0.0.1:0"
    heartbeat_timeout: float = 5.0
    check_interval: float = 0.5
    dead_beats: int = 2
    failover_threshold: int | None = None
    stats_flush: float = 1.0
    max_skew: float = 30.0
    heartbeat_write: float = 2.0  # refresh amphorae.last_heartbeat at most this often
    resync: float = 10.0
    batch: int = 5000


def healthy(payload: dict[str, Any]) -> bool:
    return bool(payload.get("alive")) and bool(payload.get("netns", True))


def _as_datetime(t: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(t, dt.UTC).replace(tzinfo=None, microsecond=0)


class HealthService:
    def __init__(
        self,
        db: Database,
        key: bytes,
        options: HealthOptions | None = None,
        *,
        clock: Clock = time.time,
        notify: Callable[[], None] | None = None,
    ) -> None:
        self.db = db
        self.options = options or HealthOptions()
        self.clock = clock
        self.notify = notify
        self.receiver = Receiver(key, clock, max_skew=self.options.max_skew)
        self.stats = StatsAccumulator()
        self.status = StatusWriter(self.options.resync)
        self.started = clock()
        self.last_seen: dict[str, float] = {}
        self.dead_streak: dict[str, int] = {}
        self._hb_written: dict[str, float] = {}
        self._flushed_at = self.started
        self._checked_at = self.started
        self.processed = 0
        self.failovers: list[str] = []
        self.stopped: list[str] = []
        self.address: tuple[str, int] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> tuple[str, int]:
        host, _, port = self.options.bind.rpartition(":")
        self.address = self.receiver.bind(host.strip("[]") or "127.0.0.1", int(port))
        self.receiver.start()
        self._thread = threading.Thread(target=self.run, name="health", daemon=True)
        self._thread.start()
        log.info("health process listening on %s:%d", *self.address)
        return self.address

    def stop(self) -> None:
        self._stop.set()
        self.receiver.stop()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick(wait=0.05)
            except Exception:
                log.exception("health tick failed; pausing failovers for one timeout")
                self.started = self.clock()
                self._stop.wait(0.5)

    # -- one round ---------------------------------------------------------------------------
    def tick(self, wait: float = 0.0) -> None:
        beats = self._drain(wait)
        if beats:
            self.process(beats)
        now = self.clock()
        if now - self._flushed_at >= self.options.stats_flush:
            self.flush_stats()
        if now - self._checked_at >= self.options.check_interval:
            self.check()

    def _drain(self, wait: float) -> list[Beat]:
        q = self.receiver.queue
        out: list[Beat] = []
        try:
            out.append(q.get(timeout=wait) if wait > 0 else q.get_nowait())
        except queue.Empty:
            return out
        while len(out) < self.options.batch:
            try:
                out.append(q.get_nowait())
            except queue.Empty:
                break
        return out

    def process(self, beats: list[Beat]) -> None:
        latest: dict[str, Beat] = {}
        streaks: dict[str, int] = {}  # dead reports since the batch's last healthy one
        fresh: set[str] = set()  # amphorae with a healthy report in this batch
        for recv, payload in beats:
            amp_id = str(payload["id"])
            if healthy(payload):
                self.last_seen[amp_id] = recv
                streaks[amp_id] = 0
                fresh.add(amp_id)
            else:
                streaks[amp_id] = streaks.get(amp_id, 0) + 1
            latest[amp_id] = (recv, payload)
        now = self.clock()
        with self.db.session() as s:
            rows = s.execute(
                select(Amphora, LoadBalancer)
                .outerjoin(LoadBalancer, Amphora.load_balancer_id == LoadBalancer.id)
                .where(Amphora.id.in_(list(latest)))
            )
            found = {a.id: (a, lb) for a, lb in rows}
            for amp_id, (recv, payload) in latest.items():
                pair = found.get(amp_id)
                if pair is None or pair[0].status == "DELETED" or pair[1] is None:
                    self.receiver.counters["unknown"] += 1
                    continue
                amp, lb = pair
                self._count_dead(amp, streaks[amp_id], amp_id in fresh)
                if not healthy(payload):
                    continue
                if amp.status == FAILOVER_STOPPED:
                    log.warning("amphora %s beats again: failover no longer stopped", amp.id)
                    amp.status, amp.status_reason = ALLOCATED, None
                if now - self._hb_written.get(amp_id, 0.0) >= self.options.heartbeat_write:
                    amp.last_heartbeat = _as_datetime(recv)
                    self._hb_written[amp_id] = now
                if amp.status != ALLOCATED:
                    continue
                listeners = payload.get("listeners") or {}
                if isinstance(listeners, dict):
                    self.stats.observe(amp.id, lb.id, str(payload.get("epoch", "")), listeners)
                self.status.apply(s, amp.id, lb, payload, now)
        self.processed += len(beats)

    def _count_dead(self, amp: Amphora, streak: int, reset: bool) -> None:
        """Dead reports count only for a built amphora: one still booting has no HAProxy yet."""
        if amp.status not in (ALLOCATED, FAILOVER_STOPPED):
            self.dead_streak[amp.id] = 0
        elif reset:
            self.dead_streak[amp.id] = streak
        else:
            self.dead_streak[amp.id] = self.dead_streak.get(amp.id, 0) + streak

    def flush_stats(self) -> int:
        self._flushed_at = self.clock()
        with self.db.session() as s:
            return self.stats.flush(s)

    def check(self) -> FailoverOutcome:
        now = self._checked_at = self.clock()
        with self.db.session() as s:
            pairs = watched(s)
            amps = {a.id: a for a, _ in pairs}
            candidates = [
                Candidate(
                    id=a.id,
                    last_seen=self.last_seen.get(a.id),
                    db_heartbeat=to_epoch(a.last_heartbeat),
                    since=to_epoch(a.updated_at or a.created_at) or 0.0,
                    dead_streak=self.dead_streak.get(a.id, 0),
                )
                for a in amps.values()
            ]
            lost = find_lost(
                candidates,
                now,
                self.options.heartbeat_timeout,
                self.started,
                self.options.dead_beats,
            )
            outcome = act(s, lost, self.options.failover_threshold, now, amps)
        for amp_id in outcome.failed_over:
            self._forget(amp_id)
        self.failovers.extend(outcome.failed_over)
        self.stopped.extend(outcome.stopped)
        if outcome.failed_over and self.notify is not None:
            self.notify()
        return outcome

    def _forget(self, amp_id: str) -> None:
        self.last_seen.pop(amp_id, None)
        self.dead_streak.pop(amp_id, None)
        self._hb_written.pop(amp_id, None)
        self.status.forget(amp_id)
        self.stats.forget(amp_id)
