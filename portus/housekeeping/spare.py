"""The spare pool: amphora namespaces (and cgroups) made ahead, so LB creation skips that step.

A spare is an ``amphorae`` row in status READY without a load balancer, whose namespace the
agent created without legs. The amphora provider adopts one when it plans a new amphora on
that host (the agent then only adds the legs); this keeps ``size`` spares per host.
"""

from __future__ import annotations

import logging

from sqlalchemy import func, select

from portus.db.engine import Database
from portus.db.models import Amphora
from portus.drivers.agent import AgentError, AmphoraAgent, AmphoraSpec, Limits

log = logging.getLogger("portus.housekeeping")

READY = "READY"


def spare_count(db: Database, host: str) -> int:
    with db.read() as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(Amphora)
                .where(Amphora.status == READY, Amphora.host == host)
            )
            or 0
        )


def fill(db: Database, agents: dict[str, AmphoraAgent], size: int, limits: Limits) -> int:
    """Create spares until every host has ``size``; returns how many were made."""
    made = 0
    for host, agent in agents.items():
        for _ in range(max(0, size - spare_count(db, host))):
            with db.session() as s:
                amp = Amphora(status="BOOTING", host=host, role=None)
                s.add(amp)
                s.flush()
                amp_id = amp.id
                amp.compute_id = f"portus-amp-{amp_id.replace('-', '')[:8]}"
            try:
                agent.create_amphora(AmphoraSpec(id=amp_id, networks=(), limits=limits))
            except AgentError as exc:
                log.warning("spare amphora on %s failed: %s", host, exc)
                with db.session() as s:
                    row = s.get(Amphora, amp_id)
                    if row is not None:
                        row.status = "DELETED"
                break
            with db.session() as s:
                row = s.get(Amphora, amp_id)
                if row is not None:
                    row.status = READY
            made += 1
    return made
