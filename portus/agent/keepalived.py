"""keepalived inside an amphora: start, reload (SIGHUP), stop, with its own pid files.

Each amphora's keepalived gets private pid files under the amphora's run directory so several
instances can run on one host (the defaults under /run would collide).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from portus.agent import cgroups
from portus.agent.cmd import in_cgroup, in_netns, run
from portus.agent.errors import AgentError
from portus.agent.haproxy import pid_alive, read_pid
from portus.agent.model import ApplyResult


@dataclass(frozen=True)
class KeepalivedFiles:
    dir: Path

    @property
    def conf(self) -> Path:
        return self.dir / "keepalived.conf"

    @property
    def pidfile(self) -> Path:
        return self.dir / "keepalived.pid"

    def argv(self, binary: str, conf: Path | None = None) -> list[str]:
        return [
            binary,
            "-f",
            str(conf or self.conf),
            "-p",
            str(self.pidfile),
            "-r",
            str(self.dir / "keepalived-vrrp.pid"),
            "-c",
            str(self.dir / "keepalived-check.pid"),
            "-b",
            str(self.dir / "keepalived-bfd.pid"),
            "-D",
        ]


def main_pid(files: KeepalivedFiles) -> int | None:
    pid = read_pid(files.pidfile)
    return pid if pid is not None and pid_alive(pid, "keepalived") else None


def validate(binary: str, netns: str, conf: Path) -> str | None:
    proc = run([binary, "-t", "-f", str(conf)], netns=netns, check=False)
    if proc.returncode == 0:
        return None
    return (proc.stderr or proc.stdout).strip() or f"keepalived -t exited {proc.returncode}"


def start(binary: str, netns: str, files: KeepalivedFiles, cgroup: cgroups.CgroupSet | None) -> int:
    files.pidfile.unlink(missing_ok=True)
    procs = cgroup.procs_files if cgroup is not None else ()
    # keepalived reads /sys/class/net: it needs ``ip netns exec``'s /sys of the namespace.
    run(in_cgroup(procs, in_netns(netns, files.argv(binary))), cwd=files.dir)
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        pid = main_pid(files)
        if pid is not None:
            return pid
        time.sleep(0.02)
    raise AgentError("keepalived did not start (no pid file)")


def stop(files: KeepalivedFiles, grace: float = 3.0) -> None:
    pid = main_pid(files)
    if pid is None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + grace
        while pid_alive(pid, "keepalived") and time.monotonic() < deadline:
            time.sleep(0.02)
        if not pid_alive(pid, "keepalived"):
            break
    files.pidfile.unlink(missing_ok=True)


def apply_conf(
    binary: str,
    netns: str,
    files: KeepalivedFiles,
    text: str | None,
    cgroup: cgroups.CgroupSet | None,
) -> ApplyResult:
    """Converge keepalived on ``text``: stop on None, start if down, SIGHUP on change."""
    pid = main_pid(files)
    if text is None:
        stop(files)
        files.conf.unlink(missing_ok=True)
        return ApplyResult(changed=pid is not None, reloaded=False)
    current = files.conf.read_text() if files.conf.exists() else None
    if pid is not None and current == text:
        return ApplyResult(changed=False, reloaded=False)
    staging = files.dir / "keepalived.conf.staging"
    staging.write_text(text)
    error = validate(binary, netns, staging)
    if error is not None:
        staging.unlink(missing_ok=True)
        return ApplyResult(False, False, error=f"invalid keepalived.conf: {error}")
    staging.replace(files.conf)
    if pid is None:
        try:
            start(binary, netns, files, cgroup)
        except AgentError as exc:
            return ApplyResult(False, False, error=str(exc))
        return ApplyResult(changed=True, reloaded=False)
    os.kill(pid, signal.SIGHUP)
    return ApplyResult(changed=True, reloaded=True)
