"""Member churn under constant load: failed requests and HAProxy reloads.

200 member changes (add, remove, weight, disable, enable; cycled) go through the API while two
wrk clients load the VIP: one keep-alive (``-c16``) and one with a new connection per request
(``-c4``, ``Connection: close``). Each change is waited to ACTIVE before the next, so every one
reaches the amphora. Reloads, runtime applies and deferred deletes (removed members left in
maintenance while a request finished, deleted later without reload) come from the agent's
amphora state; the reloads are cross-checked with HAProxy's own master counter (``show proc``).
A second phase does the same with a structural change (the listener's ``timeout_client_data``)
every ``--every`` changes, for contrast.

    .venv/bin/python bench/member_churn.py [--changes 200] [--every 20]
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import lab
from portus.agent import haproxy

MAX_PHASE_S = 330.0


def agent_counters(portus: lab.PortusProc) -> dict[str, int]:
    """Agent counters summed over its amphorae (state files), and HAProxy's reload counters."""
    out = {"reloads": 0, "runtime": 0, "deferred_deletes": 0, "master_reloads": 0}
    for d in portus.amphora_dirs():
        data = json.loads((d / "state.json").read_text())
        for key in ("reloads", "runtime", "deferred_deletes"):
            out[key] += int(data.get(key, 0))
        out["master_reloads"] += haproxy.show_proc(haproxy.HaproxyFiles(d)).reloads
    return out


def start_wrk(url: str, conc: int, close: bool) -> subprocess.Popen[str]:
    extra = ["-H", "Connection: close"] if close else []
    argv = lab.in_ns(lab.CLIENT_NS, lab.CLIENT_CPU, "wrk", "-t1", f"-c{conc}", "-d300s", *extra)
    return subprocess.Popen(
        [*argv, "--latency", url], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def stop_wrk(proc: subprocess.Popen[str]) -> dict[str, float]:
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=15)
    return lab.parse_wrk(out)


class Churn:
    """Cycles member operations on one pool, keeping at least two members serving."""

    def __init__(self, portus: lab.PortusProc, pool_id: str) -> None:
        self.p = portus
        self.path = f"/v2/lbaas/pools/{pool_id}/members"
        members = self.p.client.get(self.path).json()["members"]
        self.live: dict[str, str] = {m["address"]: m["id"] for m in members}
        self.spare = [a for a in lab.MEMBERS if a not in self.live]
        self.step = 0
        self.disabled: list[str] = []

    def _put(self, addr: str, body: dict[str, Any]) -> None:
        r = self.p.client.put(f"{self.path}/{self.live[addr]}", json={"member": body})
        r.raise_for_status()

    def one(self) -> str:
        """Apply the next change; its kind."""
        kinds = ("add", "weight", "disable", "enable", "remove")
        kind = kinds[self.step % len(kinds)]
        self.step += 1
        c = self.p.client
        kind = "weight" if kind == "add" and not self.spare else kind
        if kind == "add" and self.spare:
            addr = self.spare.pop(0)
            r = c.post(
                self.path,
                json={"member": {"address": addr, "protocol_port": 80, "subnet_id": "bmem"}},
            )
            r.raise_for_status()
            self.live[addr] = r.json()["member"]["id"]
        elif kind == "remove" and len(self.live) > 3:
            addr = next(a for a in self.live if a not in self.disabled)
            c.delete(f"{self.path}/{self.live.pop(addr)}").raise_for_status()
            self.spare.append(addr)
        elif kind == "disable":
            addr = next(a for a in reversed(self.live) if a not in self.disabled)
            self._put(addr, {"admin_state_up": False})
            self.disabled.append(addr)
        elif kind == "enable" and self.disabled:
            self._put(self.disabled.pop(0), {"admin_state_up": True})
        else:
            kind = "weight"
            addr = list(self.live)[self.step % len(self.live)]
            self._put(addr, {"weight": 1 + self.step % 7})
        return kind


def phase(
    portus: lab.PortusProc, lb_id: str, vip: str, changes: int, every: int | None
) -> dict[str, Any]:
    lb = portus.client.get(f"{lab.LBS}/{lb_id}").json()["loadbalancer"]
    listener_id = lb["listeners"][0]["id"]
    pool_id = portus.client.get(f"/v2/lbaas/listeners/{listener_id}").json()["listener"][
        "default_pool_id"
    ]
    churn = Churn(portus, pool_id)
    before = agent_counters(portus)
    ka = start_wrk(f"http://{vip}/40b", 16, close=False)
    nc = start_wrk(f"http://{vip}/40b", 4, close=True)
    time.sleep(1.0)
    t0 = time.monotonic()
    kinds: dict[str, int] = {}
    structural = 0
    done = 0
    latencies: list[float] = []
    try:
        for i in range(changes):
            if time.monotonic() - t0 > MAX_PHASE_S:
                break
            if every and i and i % every == 0:
                portus.client.put(
                    f"/v2/lbaas/listeners/{listener_id}",
                    json={"listener": {"timeout_client_data": 50000 + i}},
                ).raise_for_status()
                portus.wait_active(lb_id)
                structural += 1
            t1 = time.monotonic()
            kind = churn.one()
            kinds[kind] = kinds.get(kind, 0) + 1
            portus.wait_active(lb_id)
            latencies.append((time.monotonic() - t1) * 1000)
            done += 1
        elapsed = time.monotonic() - t0
        time.sleep(1.0)
    finally:
        ka_res, nc_res = stop_wrk(ka), stop_wrk(nc)
    after = agent_counters(portus)
    return {
        "member_changes": done,
        "kinds": kinds,
        "structural_changes": structural,
        "seconds": round(elapsed, 1),
        "changes_per_s": round(done / max(elapsed, 1e-3), 1),
        "change_to_active_ms_p50": round(statistics.median(latencies), 1) if latencies else None,
        "change_to_active_ms_max": round(max(latencies), 1) if latencies else None,
        "reloads": after["reloads"] - before["reloads"],
        "haproxy_master_reloads": after["master_reloads"] - before["master_reloads"],
        "runtime_applies": after["runtime"] - before["runtime"],
        "deferred_deletes": after["deferred_deletes"] - before["deferred_deletes"],
        "keepalive": ka_res,
        "new_conn": nc_res,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--changes", type=int, default=200)
    ap.add_argument("--every", type=int, default=20)
    ap.add_argument("--structural-changes", type=int, default=100, help="member changes, phase 2")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="portus-bmc-", dir="/tmp"))
    meta = lab.machine()
    results: dict[str, Any] = {"meta": meta}
    with lab.topology(work):
        portus = lab.PortusProc(work)
        try:
            lb_id = portus.create_lb("bench-churn", lab.MEMBERS[:8])
            portus.wait_active(lb_id)
            vip = portus.vip(lb_id)
            lab.wait_http(f"http://{vip}/40b", lab.CLIENT_NS)
            results["members_only"] = phase(portus, lb_id, vip, args.changes, None)
            print(json.dumps(results["members_only"]), flush=True)
            results["with_structural"] = phase(
                portus, lb_id, vip, args.structural_changes, args.every
            )
            print(json.dumps(results["with_structural"]), flush=True)
            portus.delete_lb(lb_id)
        finally:
            portus.close()
    path = lab.write_result("member_churn", results)
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
