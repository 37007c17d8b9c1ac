"""In-process ``AmphoraAgent``: the embedded default calls the agent library directly."""

from __future__ import annotations

from pathlib import Path

from portus.agent.agent import Agent
from portus.drivers.agent import (
    AmphoraInfo,
    AmphoraSpec,
    AmphoraStatus,
    ApplyResult,
    RenderedFiles,
)


class LocalAgent:
    """Runs amphorae on this host, state under ``state_dir``."""

    def __init__(self, state_dir: Path, *, use_cgroups: bool = True) -> None:
        self.agent = Agent(state_dir, use_cgroups=use_cgroups)

    def create_amphora(self, spec: AmphoraSpec) -> AmphoraInfo:
        return self.agent.create_amphora(spec)

    def apply(self, amphora_id: str, files: RenderedFiles) -> ApplyResult:
        return self.agent.apply(amphora_id, files)

    def delete_amphora(self, amphora_id: str) -> None:
        self.agent.delete_amphora(amphora_id)

    def status(self, amphora_id: str) -> AmphoraStatus:
        return self.agent.status(amphora_id)

    def list_amphorae(self) -> list[AmphoraInfo]:
        return self.agent.list_amphorae()
