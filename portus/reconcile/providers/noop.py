"""The noop provider: accepts everything, builds nothing (API-only use and API tests)."""

from __future__ import annotations

from portus.db.models import LoadBalancer


class NoopProvider:
    name = "noop"

    def apply(self, lb: LoadBalancer) -> None:
        return None

    def delete(self, lb: LoadBalancer) -> None:
        return None

    def observes_health(self) -> bool:
        return False
