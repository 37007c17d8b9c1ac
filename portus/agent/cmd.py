"""Run host commands with bounded time and readable errors.

Every data-plane step is an ``ip``/``nft``/``haproxy`` exec; funnelling them through one place
keeps timeouts, error text and namespace entry consistent.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from portus.agent.errors import AgentError

DEFAULT_TIMEOUT = 20.0


def in_netns(netns: str | None, argv: Sequence[str]) -> list[str]:
    """Prefix ``argv`` so it runs inside ``netns`` (or unchanged for the host)."""
    if netns is None:
        return list(argv)
    return ["ip", "netns", "exec", netns, *argv]


def run(
    argv: Sequence[str],
    *,
    netns: str | None = None,
    input_text: str | None = None,
    cwd: Path | None = None,
    check: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command to completion; raise AgentError with its stderr when ``check`` and it fails."""
    full = in_netns(netns, argv)
    try:
        proc = subprocess.run(
            full,
            input=input_text,
            capture_output=True,
            text=True,
            cwd=cwd,
            timeout=timeout,
            preexec_fn=preexec_fn,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise AgentError(f"{' '.join(full)}: timed out after {timeout}s") from exc
    except FileNotFoundError as exc:
        raise AgentError(f"{full[0]}: not installed") from exc
    if check and proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip()
        raise AgentError(f"{' '.join(full)}: exit {proc.returncode}: {detail}")
    return proc
