"""The provider contract the reconciler drives."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.orm import Session

from portus.db.models import LoadBalancer


class Provider(Protocol):
    name: str

    def prepare(self, session: Session, lb: LoadBalancer) -> object:
        """Record in the DB what the data plane will be made of (amphorae, addresses), before
        building anything; returns a plan for ``apply``. Idempotent."""

    def apply(self, lb: LoadBalancer, plan: object = None) -> None:
        """Drive the data plane to ``lb`` (a detached, fully loaded graph). Idempotent."""

    def delete(self, lb: LoadBalancer) -> None:
        """Remove everything the data plane holds for ``lb``. Idempotent."""

    def observes_health(self) -> bool:
        """True when operating statuses come from the data plane, not from admin state."""
