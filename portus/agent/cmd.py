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


# Joins the cgroups named before ``--`` (its own PID, which exec keeps), then execs the rest.
_JOIN = 'while [ "$1" != -- ]; do echo $$ > "$1"; shift; done; shift; exec "$@"'


def in_cgroup(procs_files: Sequence[Path], argv: Sequence[str]) -> list[str]:
    """Prefix ``argv`` so it starts inside a cgroup (the ``cgroup.procs`` files given).

    A shell does the joining instead of a ``preexec_fn``: with a preexec_fn, Python must
    fork() the whole (large, threaded) agent instead of vfork()ing, which cost ~65 ms per
    daemon start here, a quarter of an LB's create time.
    """
    if not procs_files:
        return list(argv)
    return ["sh", "-c", _JOIN, "portus-spawn", *map(str, procs_files), "--", *argv]


def in_netns_only(netns: str, argv: Sequence[str]) -> list[str]:
    """Like ``in_netns`` but entering only the network namespace (``nsenter``): no private
    mount namespace and /sys remount as ``ip netns exec`` does (~10 ms). For programs that do
    not read /sys/class/net, such as HAProxy and nft."""
    return ["nsenter", f"--net=/run/netns/{netns}", *argv]


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
