"""One amphora's HAProxy in master-worker mode: start, seamless reload, stop, liveness.

HAProxy runs as ``haproxy -W -D -S <master.sock>`` inside the amphora namespace. The master
CLI is the single control channel: ``reload`` for seamless reloads (listeners handed to the new
worker), ``show proc`` to see which worker serves, and ``@1 <cmd>`` to reach the current
worker's runtime API without caring where the rendered config put its stats socket.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from portus.agent import cgroups, sockcli
from portus.agent.cmd import in_cgroup, in_netns_only, run
from portus.agent.errors import AgentError

_MASTER = re.compile(r"^(\d+)\s+master\s+(\d+)\s+\[failed:\s*(\d+)\]")
_PROC = re.compile(r"^(\d+)\s+worker\s+")


@dataclass(frozen=True)
class HaproxyFiles:
    """File layout of one amphora's HAProxy under its run directory."""

    dir: Path

    @property
    def cfg(self) -> Path:
        return self.dir / "haproxy.cfg"

    @property
    def staging(self) -> Path:
        return self.dir / "haproxy.cfg.staging"

    @property
    def last_good(self) -> Path:
        return self.dir / "haproxy.cfg.good"

    @property
    def pidfile(self) -> Path:
        return self.dir / "haproxy.pid"

    @property
    def master_sock(self) -> Path:
        return self.dir / "haproxy-master.sock"


@dataclass(frozen=True)
class ProcTable:
    """Parsed ``show proc`` of the master CLI."""

    master_pid: int
    reloads: int
    failed: int
    workers: tuple[int, ...]
    old_workers: tuple[int, ...]


def parse_show_proc(text: str) -> ProcTable:
    master_pid = reloads = failed = -1
    workers: list[int] = []
    old: list[int] = []
    section = "master"
    for raw in text.splitlines():
        line = raw.strip()
        if line == "# workers":
            section = "workers"
        elif line == "# old workers":
            section = "old"
        elif line.startswith("# "):
            section = "other"
        elif m := _MASTER.match(line):
            master_pid, reloads, failed = int(m[1]), int(m[2]), int(m[3])
        elif m := _PROC.match(line):
            (workers if section == "workers" else old).append(int(m[1]))
    if master_pid < 0:
        raise AgentError(f"unexpected 'show proc' answer: {text[:200]!r}")
    return ProcTable(master_pid, reloads, failed, tuple(workers), tuple(old))


def pid_alive(pid: int, name: str = "haproxy") -> bool:
    """True if ``pid`` runs ``name`` and is not a zombie (PIDs get reused; zombies linger)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    comm = stat[stat.index("(") + 1 : stat.rindex(")")]
    state = stat[stat.rindex(")") + 2 :].split()[0]
    return comm == name and state not in ("Z", "X")


def read_pid(pidfile: Path) -> int | None:
    try:
        return int(pidfile.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def master_pid(files: HaproxyFiles) -> int | None:
    """PID of the running master, or None if it is not running."""
    pid = read_pid(files.pidfile)
    return pid if pid is not None and pid_alive(pid) else None


def validate(binary: str, cfg: Path, cwd: Path) -> str | None:
    """``haproxy -c``; returns the error text, or None when the file is valid."""
    proc = run([binary, "-c", "-f", str(cfg)], cwd=cwd, check=False)
    if proc.returncode == 0:
        return None
    output = (proc.stderr + proc.stdout).splitlines()
    alerts = [line.split(":", 1)[-1].strip() for line in output if "[ALERT]" in line]
    return "; ".join(alerts) or f"haproxy -c exited {proc.returncode}"


def show_proc(files: HaproxyFiles, retry_for: float = 3.0) -> ProcTable:
    return parse_show_proc(sockcli.send(files.master_sock, "show proc", retry_for=retry_for))


def runtime(files: HaproxyFiles, command: str) -> str:
    """Run a runtime-API command on the current worker through the master CLI."""
    # Many commands answer nothing on success, so an empty answer must not be resent.
    return sockcli.send(files.master_sock, f"@1 {command}", retry_empty=False).strip()


def start(
    binary: str,
    netns: str,
    files: HaproxyFiles,
    cgroup: cgroups.CgroupSet | None,
    timeout: float = 10.0,
) -> int:
    """Start the master (daemonised) in ``netns`` and its cgroup; return the master PID."""
    files.pidfile.unlink(missing_ok=True)
    argv = [binary, "-W", "-D", "-S", str(files.master_sock), "-p", str(files.pidfile)]
    argv += ["-f", str(files.cfg)]
    procs = cgroup.procs_files if cgroup is not None else ()
    proc = run(in_cgroup(procs, in_netns_only(netns, argv)), cwd=files.dir, check=False)
    if proc.returncode != 0:
        raise AgentError(f"haproxy failed to start: {proc.stderr.strip()}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = master_pid(files)
        if pid is not None:
            try:
                if show_proc(files, retry_for=0.5).workers:
                    return pid
            except AgentError:
                pass
        time.sleep(0.005)
    raise AgentError("haproxy started but no worker appeared")


def reload(files: HaproxyFiles, timeout: float = 10.0) -> str | None:
    """Seamless reload through the master CLI; returns an error text, or None on success.

    Success means the master counted one more reload, none failed, and a worker that did
    not exist before now serves. On failure HAProxy 2.6 keeps the old worker serving.
    """
    before = show_proc(files)
    sockcli.send(files.master_sock, "reload", retry_empty=False)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            now = show_proc(files, retry_for=0.5)
        except AgentError:
            time.sleep(0.02)
            continue
        if now.reloads > before.reloads:
            if now.failed > 0:
                return "haproxy failed to load the new configuration (old worker kept serving)"
            if any(w not in before.workers for w in now.workers):
                return None
        time.sleep(0.02)
    return f"reload did not complete within {timeout}s"


def stop(files: HaproxyFiles, grace: float = 3.0) -> None:
    """Stop the master (which stops its workers); SIGKILL after ``grace``."""
    pid = master_pid(files)
    if pid is None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + grace
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        if not pid_alive(pid):
            break
    files.pidfile.unlink(missing_ok=True)
