"""The provider contract the reconciler drives."""

from __future__ import annotations

from typing import Protocol

from portus.db.models import LoadBalancer


class Provider(Protocol):
    name: str

    def apply(self, lb: LoadBalancer) -> None:
        """Drive the data plane to ``lb`` (a detached, fully loaded graph). Idempotent."""

    def delete(self, lb: LoadBalancer) -> None:
        """Remove everything the data plane holds for ``lb``. Idempotent."""

    def observes_health(self) -> bool:
        """True when operating statuses come from the data plane, not from admin state."""
