"""The noop provider: accepts everything, builds nothing (API-only use and API tests).

Two optional knobs make it useful for testing the reconcile machinery with real processes:
``delay`` (seconds each apply/delete takes, so a test can kill a controller mid-work) and
``journal`` (a file where each call appends ``start``/``end`` lines, so a test can prove two
controllers never worked on one LB at once).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from sqlalchemy.orm import Session

from portus.db.models import LoadBalancer


class NoopProvider:
    name = "noop"

    def __init__(self, delay: float = 0.0, journal: Path | None = None) -> None:
        self.delay = delay
        self.journal = journal

    def _note(self, event: str, lb: LoadBalancer) -> None:
        if self.journal is None:
            return
        line = f"{time.time():.6f} {os.getpid()} {event} {lb.id} {lb.generation}\n"
        with self.journal.open("a") as f:
            f.write(line)

    def _work(self, lb: LoadBalancer) -> None:
        self._note("start", lb)
        if self.delay:
            time.sleep(self.delay)
        self._note("end", lb)

    def prepare(self, session: Session, lb: LoadBalancer) -> object:
        return None

    def apply(self, lb: LoadBalancer, plan: object = None) -> None:
        self._work(lb)

    def delete(self, lb: LoadBalancer) -> None:
        self._work(lb)

    def observes_health(self) -> bool:
        return False
