"""The controller's view of an LB host: the ``AmphoraAgent`` protocol and its data types.

The reconciler talks only to this protocol; ``LocalAgent`` runs the agent in-process (the
embedded default) and ``RemoteAgent`` speaks HTTPS with mutual TLS to ``portus agent``.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from portus.agent.errors import AgentError, AlreadyExists, NotFound
from portus.agent.model import (
    AmphoraInfo,
    AmphoraSpec,
    AmphoraStatus,
    ApplyResult,
    InterfaceInfo,
    Limits,
    NetworkAttachment,
    RenderedFiles,
)

__all__ = [
    "AgentError",
    "AlreadyExists",
    "AmphoraAgent",
    "AmphoraInfo",
    "AmphoraSpec",
    "AmphoraStatus",
    "ApplyResult",
    "InterfaceInfo",
    "Limits",
    "NetworkAttachment",
    "NotFound",
    "RenderedFiles",
]


@runtime_checkable
class AmphoraAgent(Protocol):
    """What the reconciler may ask of an LB host. Every call is idempotent."""

    def create_amphora(self, spec: AmphoraSpec) -> AmphoraInfo:
        """Plumb the amphora (namespace, legs, cgroup); same spec again returns the same info."""
        ...

    def apply(self, amphora_id: str, files: RenderedFiles) -> ApplyResult:
        """Converge the amphora on ``files``; a failure is in ``ApplyResult.error``."""
        ...

    def delete_amphora(self, amphora_id: str) -> None:
        """Remove everything the amphora had; deleting a missing amphora is not an error."""
        ...

    def status(self, amphora_id: str) -> AmphoraStatus:
        """Liveness and counters; raises NotFound for an unknown amphora."""
        ...

    def list_amphorae(self) -> list[AmphoraInfo]: ...
