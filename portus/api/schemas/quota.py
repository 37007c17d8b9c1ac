"""Quota bodies: seven limits, -1 = unlimited, null = back to the configured default.

``load_balancer`` and ``health_monitor`` are the deprecated spellings clients still send.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from portus.api.schemas.common import Body

Limit = Annotated[int, Field(ge=-1, le=2000000000)]
DEPRECATED = {"load_balancer": "loadbalancer", "health_monitor": "healthmonitor"}


class QuotaUpdate(Body):
    loadbalancer: Limit | None = None
    load_balancer: Limit | None = None
    listener: Limit | None = None
    pool: Limit | None = None
    healthmonitor: Limit | None = None
    health_monitor: Limit | None = None
    member: Limit | None = None
    l7policy: Limit | None = None
    l7rule: Limit | None = None

    def changes(self) -> dict[str, Any]:
        """The sent limits under their current names (the current spelling wins over the old)."""
        sent = self.given()
        out = {DEPRECATED.get(k, k): v for k, v in sent.items() if k in DEPRECATED}
        out.update({k: v for k, v in sent.items() if k not in DEPRECATED})
        return out


class QuotaUpdateBody(Body):
    quota: QuotaUpdate
