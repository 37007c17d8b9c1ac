"""The housekeeping process: every ``interval`` seconds purge, refill spares, rotate certs."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass

from portus.agent.pki import PkiPaths
from portus.db.engine import Database
from portus.db.models import utcnow
from portus.drivers.agent import AmphoraAgent, Limits
from portus.housekeeping.certs import rotate_agent_cert
from portus.housekeeping.purge import purge_deleted
from portus.housekeeping.spare import fill

log = logging.getLogger("portus.housekeeping")


@dataclass(frozen=True)
class HousekeepingOptions:
    interval: float = 30.0
    expiry: float = 7 * 24 * 3600.0
    spare_pool_size: int = 0
    cert_buffer: float = 14 * 24 * 3600.0


class Housekeeper:
    def __init__(
        self,
        db: Database,
        options: HousekeepingOptions,
        agents: dict[str, AmphoraAgent] | None = None,
        limits: Limits | None = None,
        pki: PkiPaths | None = None,
    ) -> None:
        self.db = db
        self.options = options
        self.agents = agents or {}
        self.limits = limits or Limits()
        self.pki = pki
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self, now: dt.datetime | None = None) -> dict[str, int]:
        now = now or utcnow()
        with self.db.session() as s:
            purged = purge_deleted(s, now, self.options.expiry)
        spares = 0
        if self.options.spare_pool_size > 0 and self.agents:
            spares = fill(self.db, self.agents, self.options.spare_pool_size, self.limits)
        rotated = 0
        if self.pki is not None:
            aware = now.replace(tzinfo=dt.UTC)
            rotated = int(rotate_agent_cert(self.pki, aware, self.options.cert_buffer))
        out = {
            "purged_load_balancers": purged.load_balancers,
            "purged_amphorae": purged.amphorae,
            "spares_made": spares,
            "certs_rotated": rotated,
        }
        if any(out.values()):
            log.info("housekeeping: %s", out)
        return out

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:
                log.exception("housekeeping round failed")
            self._stop.wait(self.options.interval)

    def start(self) -> Housekeeper:
        self._thread = threading.Thread(target=self.run, name="housekeeping", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
