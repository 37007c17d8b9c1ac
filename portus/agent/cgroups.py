"""Per-amphora cgroups (CPU, memory, pids) on cgroup v1 or v2.

One tenant's HAProxy must not starve another's: the amphora's processes are started inside
``portus/<amphora>`` cgroups carrying the flavor's limits. v2 is used when the host has a
unified hierarchy at the root; otherwise each v1 controller gets its own directory.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from portus.agent.errors import AgentError
from portus.agent.model import Limits

CGROUP_ROOT = Path("/sys/fs/cgroup")
V1_CONTROLLERS = ("cpu", "memory", "pids")
CFS_PERIOD_US = 100_000


@dataclass(frozen=True)
class CgroupSet:
    """The directories of one amphora's cgroup(s); ``procs_files`` are where PIDs are added."""

    dirs: tuple[Path, ...]

    @property
    def procs_files(self) -> tuple[Path, ...]:
        return tuple(d / "cgroup.procs" for d in self.dirs)


def is_v2(root: Path = CGROUP_ROOT) -> bool:
    return (root / "cgroup.controllers").exists()


def v1_settings(limits: Limits) -> dict[str, dict[str, str]]:
    """Controller -> file -> value for cgroup v1 (pure, so it can be tested without root)."""
    out: dict[str, dict[str, str]] = {c: {} for c in V1_CONTROLLERS}
    if limits.cpus is not None:
        out["cpu"]["cpu.cfs_period_us"] = str(CFS_PERIOD_US)
        out["cpu"]["cpu.cfs_quota_us"] = str(max(1000, int(limits.cpus * CFS_PERIOD_US)))
    if limits.memory_bytes is not None:
        out["memory"]["memory.limit_in_bytes"] = str(limits.memory_bytes)
    if limits.pids_max is not None:
        out["pids"]["pids.max"] = str(limits.pids_max)
    return out


def v2_settings(limits: Limits) -> dict[str, str]:
    """File -> value for cgroup v2 (pure)."""
    out: dict[str, str] = {}
    if limits.cpus is not None:
        out["cpu.max"] = f"{max(1000, int(limits.cpus * CFS_PERIOD_US))} {CFS_PERIOD_US}"
    if limits.memory_bytes is not None:
        out["memory.max"] = str(limits.memory_bytes)
    if limits.pids_max is not None:
        out["pids.max"] = str(limits.pids_max)
    return out


def create(name: str, limits: Limits, root: Path = CGROUP_ROOT) -> CgroupSet:
    """Create ``portus/<name>`` cgroup(s) with ``limits``; idempotent."""
    try:
        if is_v2(root):
            parent = root / "portus"
            parent.mkdir(exist_ok=True)
            with contextlib.suppress(OSError):
                (root / "cgroup.subtree_control").write_text("+cpu +memory +pids")
            with contextlib.suppress(OSError):
                (parent / "cgroup.subtree_control").write_text("+cpu +memory +pids")
            d = parent / name
            d.mkdir(exist_ok=True)
            for fname, value in v2_settings(limits).items():
                (d / fname).write_text(value)
            return CgroupSet((d,))
        dirs: list[Path] = []
        for ctrl, files in v1_settings(limits).items():
            base = root / ctrl
            if not base.is_dir():
                continue
            d = base / "portus" / name
            d.mkdir(parents=True, exist_ok=True)
            for fname, value in files.items():
                (d / fname).write_text(value)
            dirs.append(d)
        return CgroupSet(tuple(dirs))
    except OSError as exc:
        raise AgentError(f"cgroup {name}: {exc}") from exc


def pids(cg: CgroupSet) -> set[int]:
    found: set[int] = set()
    for f in cg.procs_files:
        with contextlib.suppress(OSError):
            found.update(int(x) for x in f.read_text().split())
    return found


def kill_all(cg: CgroupSet, grace: float = 2.0) -> None:
    """Stop every process in ``cg`` (all started by the agent): TERM, then KILL after ``grace``."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids(cg):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace
        while pids(cg) and time.monotonic() < deadline:
            time.sleep(0.02)
        if not pids(cg):
            return


def remove(cg: CgroupSet) -> None:
    """Remove the (empty) cgroup directories and the shared ``portus`` parent when empty."""
    for d in cg.dirs:
        for _ in range(50):
            try:
                d.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.02)
        with contextlib.suppress(OSError):
            d.parent.rmdir()
