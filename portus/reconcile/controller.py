"""The reconciler: takes LB ids from the work queue and drives each to its desired state.

Level-triggered and idempotent (controller-runtime style): a reconcile reads the whole desired
graph, applies it, and records the outcome; it never depends on what event queued it. Errors are
retried with exponential backoff; after ``max_attempts`` the LB goes ERROR with the reason, so
nothing stays PENDING without a worker on it.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from sqlalchemy import select
from sqlalchemy.orm import Session

from portus import constants as c
from portus.db import workqueue
from portus.db.engine import Database
from portus.db.graph import load_lb_graph
from portus.db.models import LoadBalancer
from portus.reconcile.errors import PermanentError
from portus.reconcile.finalize import finalize_error, finalize_success
from portus.reconcile.providers.base import Provider

log = logging.getLogger("portus.controller")

Clock = Callable[[], float]


class Waker:
    """Lets an in-process API wake the controller at once instead of waiting for its poll."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def notify(self) -> None:
        self._event.set()

    def wait(self, timeout: float) -> None:
        self._event.wait(timeout)
        self._event.clear()


class Controller:
    def __init__(
        self,
        db: Database,
        providers: dict[str, Provider],
        *,
        default_provider: str,
        lease_seconds: float = 15.0,
        poll_seconds: float = 0.2,
        workers: int = 4,
        max_attempts: int = 6,
        clock: Clock = time.time,
        waker: Waker | None = None,
    ) -> None:
        self.db = db
        self.providers = providers
        self.default_provider = default_provider
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self.max_attempts = max_attempts
        self.clock = clock
        self.waker = waker or Waker()
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="reconcile")
        self._workers = workers
        self._inflight: dict[str, Future[None]] = {}
        self._claims: dict[str, workqueue.Claim] = {}
        self._renewed_at = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        self.resync()
        self._thread = threading.Thread(target=self.run, name="controller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.waker.notify()
        if self._thread:
            self._thread.join(timeout=10)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def resync(self) -> None:
        """Queue every LB that is not in a final state (after a crash the queue may lag)."""
        with self.db.session() as s:
            ids = list(
                s.scalars(
                    select(LoadBalancer.id).where(
                        LoadBalancer.provisioning_status.in_(c.PENDING_STATUSES)
                    )
                )
            )
            now = self.clock()
            for lb_id in ids:
                workqueue.enqueue(s, lb_id, now)
        if ids:
            log.info("resync queued %d load balancers", len(ids))

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.tick()
            except Exception:
                log.exception("controller tick failed")
                busy = False
            if not busy:
                self.waker.wait(self.poll_seconds)

    # -- one round -------------------------------------------------------------------------
    def tick(self) -> bool:
        """Claim what is due and hand it to workers. True if more may be waiting."""
        self._inflight = {k: f for k, f in self._inflight.items() if not f.done()}
        self._claims = {k: v for k, v in self._claims.items() if k in self._inflight}
        self._renew_leases()
        free = self._workers - len(self._inflight)
        if free <= 0:
            time.sleep(0.005)
            return True
        with self.db.session() as s:
            claims = workqueue.claim(s, self.owner, self.clock(), self.lease_seconds, free)
        for claim in claims:
            self._claims[claim.lb_id] = claim
            self._inflight[claim.lb_id] = self._pool.submit(self._work, claim)
        # Fewer than asked for: the queue is drained, and another claim now would be one more
        # write transaction for nothing (a new write wakes us anyway).
        return len(claims) >= free

    def _renew_leases(self) -> None:
        """Keep the leases of long reconciles alive (a third of the lease, every time)."""
        now = self.clock()
        if not self._claims or now - self._renewed_at < self.lease_seconds / 3:
            return
        self._renewed_at = now
        with self.db.session() as s:
            for claim in self._claims.values():
                workqueue.renew(s, claim, self.owner, now + self.lease_seconds)

    def _work(self, claim: workqueue.Claim) -> None:
        rid = uuid.uuid4().hex[:8]
        try:
            self.reconcile(claim.lb_id, rid, claim)
        except PermanentError as exc:
            log.warning("[%s] lb %s: permanent error: %s", rid, claim.lb_id, exc)
            with self.db.session() as s:
                finalize_error(s, claim.lb_id, str(exc))
                workqueue.complete(s, claim, self.owner)
            return
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            if claim.attempts >= self.max_attempts:
                log.warning(
                    "[%s] lb %s: giving up after %d tries: %s",
                    rid,
                    claim.lb_id,
                    claim.attempts,
                    reason,
                )
                with self.db.session() as s:
                    finalize_error(s, claim.lb_id, reason)
                    workqueue.complete(s, claim, self.owner)
                return
            delay = min(30.0, 0.25 * 2 ** (claim.attempts - 1))
            log.info("[%s] lb %s: retry in %.2fs: %s", rid, claim.lb_id, delay, reason)
            with self.db.session() as s:
                workqueue.retry_later(s, claim, self.owner, self.clock() + delay, reason)
            return

    def _complete(self, session: Session, claim: workqueue.Claim | None) -> None:
        if claim is not None and not workqueue.complete(session, claim, self.owner):
            self.waker.notify()  # written to meanwhile: go again at once

    def reconcile(self, lb_id: str, rid: str = "-", claim: workqueue.Claim | None = None) -> None:
        """Drive one LB to its desired state. Safe to repeat and to interrupt.

        With ``claim``, the queue item is completed in the same transaction as the outcome.
        """
        with self.db.session() as s:
            if self._settled(s, lb_id):
                self._complete(s, claim)
                return
            lb = load_lb_graph(s, lb_id)
            assert lb is not None
            generation = lb.generation
            deleting = lb.provisioning_status == c.PENDING_DELETE
            provider = self._provider(lb)
            plan = provider.prepare(s, lb)
            prepared = bool(s.new or s.dirty or s.deleted)
        if prepared:  # the plan added rows (amphorae, addresses): read the graph again
            with self.db.read() as s:
                lb = load_lb_graph(s, lb_id)
                assert lb is not None
        started = time.perf_counter()
        if deleting:
            provider.delete(lb)
        else:
            provider.apply(lb, plan)
        with self.db.session() as s:
            final = finalize_success(s, lb_id, generation, provider.observes_health(), lb)
            self._complete(s, claim)
        log.debug(
            "[%s] lb %s gen %d %s in %.1f ms (%s)",
            rid,
            lb_id,
            generation,
            "deleted" if deleting else "applied",
            (time.perf_counter() - started) * 1000,
            "final" if final else "superseded",
        )

    @staticmethod
    def _settled(session: Session, lb_id: str) -> bool:
        """Nothing to do (gone, or a write raced the previous reconcile's completion): one
        small query instead of the whole graph."""
        row = session.execute(
            select(
                LoadBalancer.provisioning_status,
                LoadBalancer.generation,
                LoadBalancer.observed_generation,
            ).where(LoadBalancer.id == lb_id)
        ).first()
        return (
            row is None
            or row.provisioning_status == c.DELETED
            or (row.provisioning_status == c.ACTIVE and row.observed_generation == row.generation)
        )

    def _provider(self, lb: LoadBalancer) -> Provider:
        name = lb.provider or self.default_provider
        provider = self.providers.get(name) or self.providers.get(self.default_provider)
        if provider is None:
            raise PermanentError(f"provider {name!r} is not enabled")
        return provider
