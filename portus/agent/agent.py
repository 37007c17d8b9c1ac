"""The agent: amphora lifecycle and apply on one LB host.

``Agent`` is what both drivers end up calling (directly in-process, or behind the HTTPS
server). It keeps a small JSON state file per amphora so that a restarted agent still knows
its amphorae, their counters and what to clean up.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import threading
import time
from dataclasses import asdict, replace
from pathlib import Path

from portus.agent import (
    apply,
    cfgdiff,
    cgroups,
    haproxy,
    keepalived,
    netns,
    nft,
    runtime,
    support,
    udphealth,
    vipguard,
)
from portus.agent.cmd import run
from portus.agent.errors import AgentError, AlreadyExists, NotFound
from portus.agent.model import (
    AmphoraInfo,
    AmphoraSpec,
    AmphoraStatus,
    ApplyResult,
    InterfaceInfo,
    RenderedFiles,
)
from portus.agent.wire import info_from_dict

MAX_SOCKET_PATH = 100


class Agent:
    """Creates, applies to, inspects and deletes amphorae under ``state_dir``."""

    def __init__(
        self,
        state_dir: Path,
        *,
        cgroup_root: Path = cgroups.CGROUP_ROOT,
        use_cgroups: bool = True,
        haproxy_bin: str = "haproxy",
        keepalived_bin: str = "keepalived",
        drain_grace: float = 30.0,
        sweep_interval: float = 1.0,
    ) -> None:
        """``drain_grace``: seconds a removed member may finish its requests before they are
        cut; ``sweep_interval``: how often removals still pending (tombstones) are retried."""
        self.state_dir = Path(state_dir)
        self.cgroup_root = cgroup_root
        self.use_cgroups = use_cgroups
        self.haproxy_bin = haproxy_bin
        self.keepalived_bin = keepalived_bin
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self.udp_health = udphealth.UdpHealthSupervisor()
        self.vip_guard = vipguard.VipGuard()
        self.drain_grace = drain_grace
        self.sweep_interval = sweep_interval
        self._sweeper: threading.Thread | None = None
        if self._tombstone_files():
            self._ensure_sweeper()  # an agent restarted while removals were pending

    # -- bookkeeping -------------------------------------------------------------------------

    def _lock(self, amphora_id: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(netns.short_id(amphora_id), threading.Lock())

    def run_dir(self, amphora_id: str) -> Path:
        return self.state_dir / "amphorae" / netns.short_id(amphora_id)

    def _state_path(self, amphora_id: str) -> Path:
        return self.run_dir(amphora_id) / "state.json"

    def _load(self, amphora_id: str) -> dict[str, object]:
        try:
            data = json.loads(self._state_path(amphora_id).read_text())
        except FileNotFoundError as exc:
            raise NotFound(f"amphora {amphora_id} not found") from exc
        if not isinstance(data, dict) or data.get("info", {}).get("id") != amphora_id:
            raise NotFound(f"amphora {amphora_id} not found")
        return data

    def _save(self, amphora_id: str, data: dict[str, object]) -> None:
        apply.write_atomic(self._state_path(amphora_id), json.dumps(data, indent=1))

    def _info(self, data: dict[str, object]) -> AmphoraInfo:
        raw = data["info"]
        assert isinstance(raw, dict)
        return info_from_dict(raw)

    def _cgroup(self, info: AmphoraInfo) -> cgroups.CgroupSet | None:
        return cgroups.CgroupSet(tuple(Path(p) for p in info.cgroups)) if info.cgroups else None

    def _hap(self, info: AmphoraInfo) -> apply.HaproxyTarget:
        files = haproxy.HaproxyFiles(Path(info.run_dir))
        return apply.HaproxyTarget(self.haproxy_bin, info.netns, files, self._cgroup(info))

    # -- lifecycle ---------------------------------------------------------------------------

    def create_amphora(self, spec: AmphoraSpec) -> AmphoraInfo:
        """Namespace, legs and cgroup for ``spec``; idempotent for an identical spec."""
        with self._lock(spec.id):
            with contextlib.suppress(NotFound):
                data = self._load(spec.id)
                wanted = json.loads(json.dumps(asdict(spec)))
                if data.get("spec") == wanted:
                    return self._info(data)
                if _is_spare_for(data.get("spec"), wanted):
                    return self._adopt(spec, data)
                raise AlreadyExists(f"amphora {spec.id} exists with a different spec")
            ns = netns.netns_name(spec.id)
            if netns.netns_exists(ns):
                raise AlreadyExists(f"namespace {ns} already exists")
            run_dir = self.run_dir(spec.id)
            if len(str(run_dir / "haproxy-master.sock")) > MAX_SOCKET_PATH:
                raise AgentError(f"state dir too long for UNIX sockets: {run_dir}")
            run_dir.mkdir(parents=True, exist_ok=True)
            info = AmphoraInfo(spec.id, ns, str(run_dir))
            try:
                cg = None
                if self.use_cgroups:
                    cg = cgroups.create(ns, spec.limits, self.cgroup_root)
                    info = replace(info, cgroups=tuple(str(d) for d in cg.dirs))
                self._save(spec.id, {"spec": asdict(spec), "info": asdict(info)})
                netns.create_netns(ns)
                netns.enable_forwarding(ns)
                netns.tune_amphora(ns)
                legs: list[InterfaceInfo] = []
                for i, leg in enumerate(spec.networks):
                    host = netns.host_veth_name(spec.id, i)
                    netns.add_leg(ns, host, f"eth{i}", leg)
                    legs.append(
                        InterfaceInfo(f"eth{i}", host, leg.bridge, leg.address, leg.prefixlen)
                    )
                info = replace(info, interfaces=tuple(legs))
                self._save(
                    spec.id,
                    {"spec": asdict(spec), "info": asdict(info), "reloads": 0, "runtime": 0},
                )
            except Exception:
                self._teardown(spec.id, info, len(spec.networks))
                raise
            return info

    def _adopt(self, spec: AmphoraSpec, data: dict[str, object]) -> AmphoraInfo:
        """A spare (namespace and cgroup made ahead, no legs) gets its legs now."""
        info = self._info(data)
        legs: list[InterfaceInfo] = []
        for i, leg in enumerate(spec.networks):
            host = netns.host_veth_name(spec.id, i)
            netns.add_leg(info.netns, host, f"eth{i}", leg)
            legs.append(InterfaceInfo(f"eth{i}", host, leg.bridge, leg.address, leg.prefixlen))
        info = replace(info, interfaces=tuple(legs))
        self._save(spec.id, {**data, "spec": asdict(spec), "info": asdict(info)})
        return info

    def delete_amphora(self, amphora_id: str) -> None:
        """Stop every process the amphora runs and remove all it created; idempotent."""
        with self._lock(amphora_id):
            try:
                data = self._load(amphora_id)
                info = self._info(data)
                spec = data.get("spec")
                legs = len(spec.get("networks", [])) if isinstance(spec, dict) else 0
            except NotFound:
                ns = netns.netns_name(amphora_id)
                info = AmphoraInfo(amphora_id, ns, str(self.run_dir(amphora_id)))
                legs = 10
            self._teardown(amphora_id, info, legs)

    def _teardown(self, amphora_id: str, info: AmphoraInfo, legs: int) -> None:
        run_dir = Path(info.run_dir)
        self.udp_health.stop(run_dir)
        self.vip_guard.unwatch(str(run_dir))
        # keepalived first: its SIGTERM sends a priority-0 advert, so a peer takes the VIP
        # at once instead of after the master-down timeout while HAProxy is already gone.
        keepalived.stop(keepalived.KeepalivedFiles(run_dir))
        haproxy.stop(haproxy.HaproxyFiles(run_dir))
        cg = self._cgroup(info)
        if cg is not None:
            cgroups.kill_all(cg)
        _kill_pids(netns.netns_pids(info.netns))
        for i in range(max(legs, len(info.interfaces))):
            netns.delete_link(netns.host_veth_name(amphora_id, i))
        netns.delete_netns(info.netns)
        if cg is not None:
            cgroups.remove(cg)
        shutil.rmtree(run_dir, ignore_errors=True)

    def list_amphorae(self) -> list[AmphoraInfo]:
        out: list[AmphoraInfo] = []
        for path in sorted((self.state_dir / "amphorae").glob("*/state.json")):
            with contextlib.suppress(OSError, ValueError, KeyError, AssertionError):
                out.append(self._info(json.loads(path.read_text())))
        return out

    # -- apply and status --------------------------------------------------------------------

    def apply(self, amphora_id: str, files: RenderedFiles) -> ApplyResult:
        """Converge nftables, HAProxy and keepalived on ``files``; errors are in the result."""
        with self._lock(amphora_id):
            data = self._load(amphora_id)
            info = self._info(data)
            run_dir = Path(info.run_dir)
            self.vip_guard.unwatch(str(run_dir))  # what follows may stop HAProxy on purpose
            results: list[ApplyResult] = []
            nft_path = run_dir / "nft.conf"
            if files.nft_ruleset is None:
                results.append(nft.clear(info.netns, nft_path))
            else:
                results.append(nft.apply_ruleset(info.netns, nft_path, files.nft_ruleset))
            if files.keepalived_conf is not None and not data.get("nonlocal_bind"):
                # ACTIVE_STANDBY: the backup's HAProxy binds the VIP that keepalived holds on
                # the master only.
                run(
                    ["sysctl", "-qw", "net.ipv4.ip_nonlocal_bind=1", "net.ipv6.ip_nonlocal_bind=1"],
                    netns=info.netns,
                )
                data["nonlocal_bind"] = True
            # The UDP/SCTP checks ride along as a file; they are the checker's, not HAProxy's.
            health_spec = dict(files.files).get(udphealth.SPEC_FILE)
            certs = [f for f in files.files if f[0] != udphealth.SPEC_FILE]
            if results[0].error is None:
                self.udp_health.configure(info.netns, run_dir, health_spec)
            target = self._hap(info)
            try:
                scripts_changed = support.write_files(run_dir, files.scripts, 0o755)
                certs_changed = support.write_files(run_dir, certs, 0o600)
                if files.haproxy_cfg is None:
                    outcome = apply.stop_haproxy(target)
                else:
                    outcome = apply.apply_haproxy(
                        target, files.haproxy_cfg, force_reload=certs_changed
                    )
                if scripts_changed and not outcome.result.changed:
                    outcome = replace(outcome, result=replace(outcome.result, changed=True))
            except AgentError as exc:
                outcome = apply.Outcome(ApplyResult(False, False, error=str(exc)))
            results.append(outcome.result)
            results.append(
                keepalived.apply_conf(
                    self.keepalived_bin,
                    info.netns,
                    keepalived.KeepalivedFiles(run_dir),
                    files.keepalived_conf,
                    self._cgroup(info),
                )
            )
            if files.keepalived_conf is not None:
                self._guard_vip(run_dir)
            data["reloads"] = _int(data.get("reloads")) + outcome.reloads
            data["runtime"] = _int(data.get("runtime")) + int(outcome.runtime_applied)
            if outcome.deferred:
                data["deferred_deletes"] = _int(data.get("deferred_deletes")) + outcome.deferred
            self._save(amphora_id, data)
            if outcome.deferred:
                self._ensure_sweeper()
            return _merge(results, outcome.result)

    # -- removals left pending (tombstones, see portus.agent.runtime) ------------------------

    def _tombstone_files(self) -> list[Path]:
        return sorted((self.state_dir / "amphorae").glob(f"*/{runtime.TOMBSTONE_FILE}"))

    def _ensure_sweeper(self) -> None:
        with self._guard:
            if self._sweeper is None:
                self._sweeper = threading.Thread(
                    target=self._sweep_loop, name="portus-tombstones", daemon=True
                )
                self._sweeper.start()

    def _sweep_loop(self) -> None:
        while True:
            time.sleep(self.sweep_interval)
            self.sweep_tombstones()
            with self._guard:
                if not self._tombstone_files():
                    self._sweeper = None
                    return

    def sweep_tombstones(self) -> int:
        """Try once to delete every pending removal; returns how many are still pending."""
        pending = 0
        for path in self._tombstone_files():
            try:
                amphora_id = str(json.loads((path.parent / "state.json").read_text())["info"]["id"])
                lock = self._lock(amphora_id)
            except (OSError, ValueError, KeyError, TypeError, AgentError):
                path.unlink(missing_ok=True)  # its amphora is gone
                continue
            if not lock.acquire(timeout=self.sweep_interval):
                pending += 1  # an apply is running; it may settle them itself
                continue
            try:
                pending += self._sweep_one(path)
            finally:
                lock.release()
        return pending

    def _sweep_one(self, path: Path) -> int:
        files = haproxy.HaproxyFiles(path.parent)
        tombs = runtime.load(path)
        if not tombs or haproxy.master_pid(files) is None:
            runtime.save(path, {})
            return 0
        try:
            live = cfgdiff.parse(files.cfg.read_text()).servers.keys()
            runtime.sweep(lambda c: haproxy.runtime(files, c), tombs, live, self.drain_grace)
        except (AgentError, OSError):
            pass  # HAProxy busy or reloading: next round
        runtime.save(path, tombs)
        return len(tombs)

    def _guard_vip(self, run_dir: Path) -> None:
        """ACTIVE_STANDBY: HAProxy's death stops keepalived at once (see vipguard)."""
        hap = haproxy.master_pid(haproxy.HaproxyFiles(run_dir))
        ka = keepalived.main_pid(keepalived.KeepalivedFiles(run_dir))
        if hap is not None and ka is not None:
            self.vip_guard.watch(str(run_dir), hap, vipguard.sigterm(ka))

    def status(self, amphora_id: str) -> AmphoraStatus:
        data = self._load(amphora_id)
        info = self._info(data)
        files = haproxy.HaproxyFiles(Path(info.run_dir))
        pid = haproxy.master_pid(files)
        workers: tuple[int, ...] = ()
        if pid is not None:
            with contextlib.suppress(AgentError):
                workers = haproxy.show_proc(files, retry_for=0.5).workers
        return AmphoraStatus(
            id=amphora_id,
            alive=pid is not None and bool(workers),
            haproxy_pid=pid,
            worker_pids=workers,
            reloads=_int(data.get("reloads")),
            runtime_applies=_int(data.get("runtime")),
            keepalived_pid=keepalived.main_pid(keepalived.KeepalivedFiles(Path(info.run_dir))),
        )


def _is_spare_for(current: object, wanted: dict[str, object]) -> bool:
    """A spare has no legs yet and the same limits; anything else is a different amphora."""
    return (
        isinstance(current, dict)
        and not current.get("networks")
        and current.get("limits") == wanted.get("limits")
    )


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0


def _merge(results: list[ApplyResult], main: ApplyResult) -> ApplyResult:
    errors = [r.error for r in results if r.error]
    return ApplyResult(
        changed=any(r.changed for r in results),
        reloaded=main.reloaded,
        runtime_ops=main.runtime_ops,
        error="; ".join(errors) if errors else None,
        rolled_back=main.rolled_back,
    )


def _kill_pids(pids: list[int], grace: float = 2.0) -> None:
    """Stop processes left in our namespace (ours by construction): TERM, then KILL."""
    me = os.getpid()
    pids = [p for p in pids if p != me]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            pids = [p for p in pids if Path(f"/proc/{p}").exists() and not _zombie(p)]
            if not pids:
                return
            time.sleep(0.02)


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2 :].startswith(("Z", "X"))
