"""Atomic apply of a rendered haproxy.cfg (Caddy-style): validate, delta or reload, probe, commit.

Order of decisions:
1. byte-identical to the running file and HAProxy alive -> no-op;
2. ``haproxy -c`` on a staging copy fails -> refused, nothing touched;
3. HAProxy not running -> start it with the new file;
4. only server lines differ -> runtime API, file written, no reload (falls back to 5 on error);
   a removed server that still serves a request stays in maintenance as a tombstone
   (``runtime``), deleted later by the agent's sweeper or dropped by the next reload;
5. otherwise -> seamless reload through the master CLI.
After 3-5 the amphora is probed; on failure the last known good file is restored (reloaded
back, or restarted) and the error reported. A probe-passing file becomes the last known good.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from portus.agent import cfgdiff, haproxy, probe, runtime
from portus.agent.cgroups import CgroupSet
from portus.agent.errors import AgentError
from portus.agent.model import ApplyResult


@dataclass(frozen=True)
class HaproxyTarget:
    """Everything needed to manage one amphora's HAProxy."""

    binary: str
    netns: str
    files: haproxy.HaproxyFiles
    cgroup: CgroupSet | None


@dataclass(frozen=True)
class Outcome:
    result: ApplyResult
    reloads: int = 0
    runtime_applied: bool = False
    deferred: int = 0  # removals left as tombstones (deleted later, no reload)


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except FileNotFoundError:
        return None


def _state_file_path(target: HaproxyTarget, parsed: cfgdiff.ParsedConfig) -> Path | None:
    if parsed.server_state_file is None:
        return None
    path = Path(parsed.server_state_file)
    return path if path.is_absolute() else target.files.dir / path


def tombstone_file(target: HaproxyTarget) -> Path:
    return runtime.tombstone_file(target.files.dir)


def _forget_tombstones(target: HaproxyTarget) -> None:
    """The worker holding them is being replaced (reload, restart, stop)."""
    runtime.save(tombstone_file(target), {})


def save_server_state(
    target: HaproxyTarget,
    parsed: cfgdiff.ParsedConfig,
    skip: frozenset[tuple[str, str]] = frozenset(),
) -> None:
    """Dump live server state where the config loads it from, so reloads keep member state.

    ``skip``: (backend, server) not to carry over (tombstones: a member re-added under the
    same name must not come back in their maintenance state).
    """
    path = _state_file_path(target, parsed)
    if path is None:
        return
    with contextlib.suppress(AgentError, OSError):
        state = haproxy.runtime(target.files, "show servers state")
        if state.startswith("1"):
            lines = [
                line
                for line in state.splitlines()
                if line.startswith(("1", "#")) or tuple(line.split()[1:4:2]) not in skip
            ]
            write_atomic(path, "\n".join(lines) + "\n")


def _start_with(target: HaproxyTarget, text: str) -> str | None:
    _forget_tombstones(target)
    write_atomic(target.files.cfg, text)
    try:
        haproxy.start(target.binary, target.netns, target.files, target.cgroup)
    except AgentError as exc:
        haproxy.stop(target.files)
        return str(exc)
    return probe.check_haproxy(target.files, target.netns, cfgdiff.parse(text).binds)


def _commit(target: HaproxyTarget, text: str) -> None:
    write_atomic(target.files.last_good, text)


def _restore(target: HaproxyTarget, alive: bool) -> tuple[bool, int]:
    """Go back to the last known good file; returns (restored, reloads done)."""
    good = _read(target.files.last_good)
    if good is None:
        haproxy.stop(target.files)
        target.files.cfg.unlink(missing_ok=True)
        return False, 0
    write_atomic(target.files.cfg, good)
    _forget_tombstones(target)
    if alive and haproxy.master_pid(target.files) is not None:
        return haproxy.reload(target.files) is None, 1
    haproxy.stop(target.files)
    return _start_with(target, good) is None, 0


def stop_haproxy(target: HaproxyTarget) -> Outcome:
    running = haproxy.master_pid(target.files) is not None
    haproxy.stop(target.files)
    _forget_tombstones(target)
    for path in (target.files.cfg, target.files.last_good):
        path.unlink(missing_ok=True)
    return Outcome(ApplyResult(changed=running, reloaded=False))


def _keys(tombs: runtime.Tombstones) -> frozenset[tuple[str, str]]:
    return frozenset((t.server.proxy, t.server.name) for t in tombs.values())


def _invalid(target: HaproxyTarget, text: str) -> str | None:
    """``haproxy -c`` on ``text`` (staged aside): an "invalid: ..." error, or None."""
    files = target.files
    write_atomic(files.staging, text)
    try:
        error = haproxy.validate(target.binary, files.staging, files.dir)
    finally:
        files.staging.unlink(missing_ok=True)
    return f"invalid: {error}" if error is not None else None


def apply_haproxy(target: HaproxyTarget, text: str, *, force_reload: bool = False) -> Outcome:
    """Apply ``text``; ``force_reload`` when files HAProxy reads at load (certs) changed."""
    files = target.files
    running_text = _read(files.cfg)
    alive = haproxy.master_pid(files) is not None
    if alive and running_text == text and not force_reload:
        return Outcome(ApplyResult(changed=False, reloaded=False))

    new = cfgdiff.parse(text)
    if not alive:
        # Nothing serves yet, so nothing to protect: start directly (HAProxy checks the file
        # as it loads it) and run `haproxy -c` only to say why a start failed.
        error = _start_with(target, text)
        if error is None:
            _commit(target, text)
            return Outcome(ApplyResult(changed=True, reloaded=False))
        invalid = _invalid(target, text)
        if invalid is not None:
            error = invalid
        restored, reloads = _restore(target, alive=False)
        return Outcome(
            ApplyResult(changed=False, reloaded=False, error=error, rolled_back=restored),
            reloads,
        )

    invalid = _invalid(target, text)
    if invalid is not None:
        return Outcome(ApplyResult(changed=False, reloaded=False, error=invalid))

    ops_done: list[str] = []
    old = cfgdiff.parse(running_text or "")
    tombs = runtime.load(tombstone_file(target))
    delta = None
    if running_text is not None and not force_reload:
        dead = {(t.server.proxy, t.server.name): t.server for t in tombs.values()}
        delta = cfgdiff.server_delta(old, new, dead)
    if delta is not None:
        try:
            ran = runtime.run_ops(lambda c: haproxy.runtime(files, c), delta, tombs)
        except AgentError:
            delta = None  # fall back to a reload, which also converges the partial change
        else:
            ops_done = ran.commands
            runtime.save(tombstone_file(target), tombs)
            write_atomic(files.cfg, text)
            # Server changes leave the listening sockets as they were: the worker answering
            # is the check (connecting to every bind costs an exec per change under load).
            error = probe.check_haproxy(files, target.netns, ())
            if error is None:
                _commit(target, text)
                return Outcome(
                    ApplyResult(changed=True, reloaded=False, runtime_ops=tuple(ops_done)),
                    runtime_applied=True,
                    deferred=len(ran.tombstoned),
                )

    save_server_state(target, old, _keys(tombs))
    _forget_tombstones(target)
    write_atomic(files.cfg, text)
    error = haproxy.reload(files)
    if error is None:
        error = probe.check_haproxy(files, target.netns, new.binds)
    if error is None:
        _commit(target, text)
        return Outcome(
            ApplyResult(changed=True, reloaded=True, runtime_ops=tuple(ops_done)), reloads=1
        )
    restored, reloads = _restore(target, alive=True)
    return Outcome(
        ApplyResult(
            changed=False,
            reloaded=True,
            runtime_ops=tuple(ops_done),
            error=error,
            rolled_back=restored,
        ),
        reloads=1 + reloads,
    )
