"""ACTIVE_STANDBY VIP failover under constant load, per ``advert_int``; false failovers under
CPU saturation.

For each ``advert_int`` a ``portus up`` (amphora provider, ACTIVE_STANDBY) serves one LB in
front of the lab's nginx. A prober on the host starts a new HTTP connection to the VIP every
5 ms, each independent of the others (a probe whose SYN was lost does not hold up the next
one, which a sequential prober would count as outage). The master amphora is then killed at a
random phase, TRIALS times per scenario:

* ``haproxy``: SIGKILL of the master's HAProxy (keepalived's track script / the agent sees it);
* ``keepalived``: SIGKILL of keepalived (the VIP stays on the master, which still serves);
* ``host-down``: SIGKILL of both and the master's VIP leg down (closest to losing the host).

Outage = the longest stretch of probe *start times* without a successful probe around the
kill. A probe whose SYN went to the dead master waits for the kernel's SYN retransmit (1 s);
that tail is reported separately (``slow probes``) because a real client sees it too.

False-failover check: for SATURATE seconds wrk (32 connections) loads the VIP while CPU hogs
(2 per CPU, nice 0) keep both CPUs busy; any VIP move or amphora replacement counts as a false
failover.

    .venv/bin/python bench/failover.py [advert_int ...]     (default: 0.02 0.05 0.1)

    .venv/bin/python bench/failover.py spare   (create -> ACTIVE with / without spare pool)

PORTUS_BENCH_SCENARIOS=host-down,haproxy picks scenarios; PORTUS_BENCH_SATURATE=0 skips the
saturation check.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import lab
from lab import Netns, PortusProc, machine, sh, write_result

# Our own bridges and namespaces (the data-plane lab's may be in use by another run).
VIP_BRIDGE, MEM_BRIDGE = "portus-fov", "portus-fom"
VIP_NET, MEM_NET = "10.252.0", "10.252.1"
MEMBER_NS = "portus-fobe"
MEMBERS = [f"{MEM_NET}.101", f"{MEM_NET}.102"]
TRIALS = 5
SCENARIOS = tuple(
    os.environ.get("PORTUS_BENCH_SCENARIOS", "haproxy,keepalived,host-down").split(",")
)
PROBE_EVERY = 0.005
PROBE_TIMEOUT = 1.5
MAX_PROBES = 4000  # bounds every probing window (20 s at one probe per 5 ms)
SATURATE = float(os.environ.get("PORTUS_BENCH_SATURATE", "15"))  # 0 skips the check


class Prober:
    """Independent HTTP/1.0 probes to ``vip`` every PROBE_EVERY s; (start, ok, seconds)."""

    def __init__(self, vip: str, seconds: float) -> None:
        self.vip, self.seconds = vip, seconds
        self.rows: list[tuple[float, bool, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self._thread.start()

    async def _one(self) -> None:
        t0 = time.monotonic()
        ok = False
        try:
            r, w = await asyncio.wait_for(asyncio.open_connection(self.vip, 80), PROBE_TIMEOUT)
            w.write(b"GET /40b HTTP/1.0\r\n\r\n")
            head = await asyncio.wait_for(r.read(12), PROBE_TIMEOUT)
            ok = head[8:12] == b" 200"
            w.close()
        except (OSError, TimeoutError):
            ok = False
        self.rows.append((t0, ok, time.monotonic() - t0))

    async def _run(self) -> None:
        end = time.monotonic() + self.seconds
        tasks: set[asyncio.Task[None]] = set()
        for _ in range(MAX_PROBES):
            if self._stop.is_set() or time.monotonic() > end:
                break
            task = asyncio.create_task(self._one())
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            await asyncio.sleep(PROBE_EVERY)
        if tasks:
            await asyncio.wait(tasks, timeout=PROBE_TIMEOUT * 2 + 1)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=PROBE_TIMEOUT * 2 + 5)

    def outage(self, t0: float) -> tuple[float, float, int, int]:
        """(longest time in ms without a probe *completing* successfully around the kill, when
        it ended (ms after t0), failed probes, slow probes > 0.5 s: SYNs lost to the dead
        master, retried by TCP).

        Completion times, not start times: a probe whose SYN was lost succeeds a second later
        and would otherwise paper over the outage it started in."""
        rows = [r for r in self.rows if r[0] >= t0 - 0.2]
        done = sorted(start + took for start, ok, took in rows if ok)
        gap, end = max(((b - a, b) for a, b in itertools.pairwise(done)), default=(0.0, t0))
        failed = sum(1 for r in rows if not r[1])
        slow = sum(1 for r in rows if r[1] and r[2] > 0.5)
        return gap * 1000, (end - t0) * 1000, failed, slow


def answers(vip: str) -> bool:
    try:
        with socket.create_connection((vip, 80), timeout=0.5) as s:
            s.sendall(b"GET /40b HTTP/1.0\r\n\r\n")
            return s.recv(16)[8:12] == b" 200"
    except OSError:
        return False


# -- amphorae as seen from the state dir ------------------------------------------------------


def amphorae(p: PortusProc) -> dict[str, dict[str, Any]]:
    """amphora id -> its agent state (netns, run dir)."""
    out: dict[str, dict[str, Any]] = {}
    for d in p.amphora_dirs():
        try:
            info = json.loads((d / "state.json").read_text())["info"]
        except (OSError, ValueError, KeyError):
            continue
        out[info["id"]] = info
    return out


def holds_vip(netns: str, vip: str) -> bool:
    out = subprocess.run(
        ["ip", "-n", netns, "-o", "addr", "show", "dev", "eth0"], capture_output=True, text=True
    ).stdout
    return f" {vip}/" in out


def master(p: PortusProc, vip: str) -> dict[str, Any] | None:
    for info in amphorae(p).values():
        if holds_vip(info["netns"], vip):
            return info
    return None


def pid_of(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def kill(info: dict[str, Any], how: str) -> None:
    run = Path(info["run_dir"])
    if how in ("keepalived", "host-down"):
        for name in ("keepalived.pid", "keepalived-vrrp.pid"):
            pid = pid_of(run / name)
            if pid:
                os.kill(pid, signal.SIGKILL)
    if how in ("haproxy", "host-down"):
        pid = pid_of(run / "haproxy.pid")
        if pid:
            os.kill(pid, signal.SIGKILL)
    if how == "host-down":
        subprocess.run(["ip", "-n", info["netns"], "link", "set", "eth0", "down"], check=True)


def settled(p: PortusProc, lb_id: str, lost: str) -> bool:
    amps = p.client.get("/v2/octavia/amphorae", params={"loadbalancer_id": lb_id}).json()
    rows = amps["amphorae"]
    return (
        p.lb_status(lb_id) == "ACTIVE"
        and len(rows) == 2
        and lost not in {a["id"] for a in rows}
        and {a["status"] for a in rows} == {"ALLOCATED"}
    )


def wait(check: Any, timeout: float, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step)
    return False


def trial(p: PortusProc, lb_id: str, vip: str, how: str) -> dict[str, Any]:
    assert wait(lambda: master(p, vip) is not None, 10), "no master holds the VIP"
    old = master(p, vip)
    assert old is not None
    prober = Prober(vip, seconds=15)
    try:
        time.sleep(0.5 + random.random() * 0.2)  # random phase against adverts and checks
        t0 = time.monotonic()
        kill(old, how)
        moved = wait(lambda: (m := master(p, vip)) is not None and m["id"] != old["id"], 10)
        moved_ms = (time.monotonic() - t0) * 1000
        time.sleep(1.0)  # let the tail of slow probes finish inside the window
    finally:
        prober.stop()
    gap, end, failed, slow = prober.outage(t0)
    ok = wait(lambda: settled(p, lb_id, old["id"]), 30, 0.1)
    return {"how": how, "moved": moved, "outage_ms": round(gap, 1), "failed": failed,
            "outage_end_ms": round(end), "vip_seen_moved_ms": round(moved_ms),
            "slow": slow, "rebuilt": ok}  # fmt: skip


def saturate(p: PortusProc, vip: str, seconds: float) -> dict[str, Any]:
    """CPU hogs on both CPUs for ``seconds`` while watching the VIP holder and amphora ids."""
    before_ids = set(amphorae(p))
    holder = master(p, vip)
    hog = f"import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end: pass"
    hogs = [
        subprocess.Popen(["taskset", "-c", str(i % 2), sys.executable, "-c", hog]) for i in range(4)
    ]
    wrk = subprocess.Popen(
        ["wrk", "-t1", "-c32", f"-d{int(seconds)}s", f"http://{vip}/40b"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    moves, samples = 0, 0
    prober = Prober(vip, seconds=seconds)
    try:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            now = master(p, vip)
            samples += 1
            if now is not None and holder is not None and now["id"] != holder["id"]:
                moves += 1
                holder = now
            time.sleep(0.05)
    finally:
        for h in hogs:
            h.wait(seconds + 10)
        wrk_out, _ = wrk.communicate(timeout=seconds + 10)
        prober.stop()
    ok_probes = sum(1 for r in prober.rows if r[1])
    return {"seconds": seconds, "vip_moves": moves, "samples": samples,
            "amphorae_replaced": len(before_ids - set(amphorae(p))),
            "probes": len(prober.rows), "answered": ok_probes,
            "wrk_requests_per_s": _wrk_rate(wrk_out)}  # fmt: skip


def _wrk_rate(text: str) -> float | None:
    for line in text.splitlines():
        if line.startswith("Requests/sec:"):
            return float(line.split()[1])
    return None


def run_one(advert: float, work: Path) -> dict[str, Any]:
    os.environ.update(
        PORTUS_LOADBALANCER_TOPOLOGY="ACTIVE_STANDBY",
        PORTUS_VRRP_ADVERT_INT=str(advert),
        PORTUS_HEARTBEAT_INTERVAL="0.2",
        PORTUS_HEARTBEAT_TIMEOUT="1.5",
    )
    p = PortusProc(work)
    try:
        lb_id = p.create_lb("fo", MEMBERS[:2])
        p.wait_active(lb_id)
        vip = p.vip(lb_id)
        out: dict[str, Any] = {"advert_int": advert, "scenarios": {}}
        if not wait(lambda: answers(vip), 15, 0.1):
            raise RuntimeError(f"the VIP {vip} does not answer")
        out["saturation"] = saturate(p, vip, SATURATE) if SATURATE > 0 else None
        print(f"advert_int {advert}: saturation {out['saturation']}", flush=True)
        for how in SCENARIOS:
            rows = [trial(p, lb_id, vip, how) for _ in range(TRIALS)]
            gaps = [r["outage_ms"] for r in rows]
            out["scenarios"][how] = {
                "median_ms": statistics.median(gaps), "min_ms": min(gaps), "max_ms": max(gaps),
                "trials": rows,
            }  # fmt: skip
            print(f"advert_int {advert} {how}: median {statistics.median(gaps):.0f} ms "
                  f"(min {min(gaps):.0f}, max {max(gaps):.0f}); {rows}", flush=True)  # fmt: skip
        p.delete_lb(lb_id)
        return out
    finally:
        p.close()


def _subnets_json() -> str:
    def subnet(name: str, net: str, bridge: str) -> dict[str, str]:
        return {"id": name, "name": name, "network_id": name, "network_name": name,
                "cidr": f"{net}.0/24", "gateway": f"{net}.1", "bridge": bridge}  # fmt: skip

    return json.dumps([subnet("bvip", VIP_NET, VIP_BRIDGE), subnet("bmem", MEM_NET, MEM_BRIDGE)])


@contextlib.contextmanager
def topology(work: Path) -> Iterator[None]:
    """Two bridges (gateway on the host) and a member namespace with a small HTTP server."""
    with contextlib.ExitStack() as stack:
        for name, net in ((VIP_BRIDGE, VIP_NET), (MEM_BRIDGE, MEM_NET)):
            if lab.link_exists(name):
                raise RuntimeError(f"{name} exists: another failover benchmark is running?")
            sh("ip", "link", "add", name, "type", "bridge")
            stack.callback(sh, "ip", "link", "del", name, check=False)
            sh("ip", "addr", "add", f"{net}.1/24", "dev", name)
            sh("ip", "link", "set", name, "up")
        members = Netns(MEMBER_NS)
        stack.callback(members.close)
        members.leg(MEM_BRIDGE, MEMBERS)
        www = work / "www"
        www.mkdir(parents=True, exist_ok=True)
        (www / "40b").write_bytes(b"x" * 40)
        servers = [
            subprocess.Popen(
                [
                    "ip",
                    "netns",
                    "exec",
                    MEMBER_NS,
                    sys.executable,
                    "-m",
                    "http.server",
                    "80",
                    "--bind",
                    address,
                    "--directory",
                    str(www),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for address in MEMBERS
        ]
        for proc in servers:
            stack.callback(proc.wait, 5)
            stack.callback(proc.terminate)
        lab.subnets_json = _subnets_json  # PortusProc reads it for PORTUS_SUBNETS
        time.sleep(1.0)
        yield


def create_times(work: Path, spares: int, count: int = TRIALS) -> dict[str, Any]:
    """SINGLE LBs created one after another: seconds from POST to ACTIVE, with ``spares``
    ready-made amphora namespaces (housekeeping fills the pool when ``portus up`` starts)."""
    os.environ.update(PORTUS_LOADBALANCER_TOPOLOGY="SINGLE", PORTUS_SPARE_POOL_SIZE=str(spares))
    p = PortusProc(work)
    try:
        if spares and not wait(lambda: len(p.amphora_dirs()) >= spares, 30, 0.05):
            raise RuntimeError("the spare pool was not filled")
        times: list[float] = []
        for i in range(count):
            t0 = time.monotonic()
            lb_id = p.create_lb(f"c{i}", MEMBERS[:2])
            p.wait_active(lb_id)
            times.append(time.monotonic() - t0)
            p.delete_lb(lb_id)
        out = {"spares": spares, "median_s": statistics.median(times), "min_s": min(times),
               "max_s": max(times), "times_s": [round(t, 3) for t in times]}  # fmt: skip
        print(f"create -> ACTIVE with {spares} spares: {out}", flush=True)
        return out
    finally:
        p.close()


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="portus-bfo-", dir="/tmp"))
    results: dict[str, Any] = {"machine": machine(), "runs": []}
    with topology(work):
        if sys.argv[1:] == ["spare"]:
            results["create"] = [create_times(work, 0), create_times(work, TRIALS)]
        else:
            for advert in [float(a) for a in sys.argv[1:]] or [0.02, 0.05, 0.1]:
                results["runs"].append(run_one(advert, work))
    print(write_result("failover", results))


if __name__ == "__main__":
    main()
