"""POST LB (with an HTTP listener, pool and one member) -> ACTIVE -> first HTTP 200 at the VIP.

p50/p95 of ``--n`` creations through the API of a ``portus up`` subprocess, each deleted before
the next. The breakdown times the agent's own steps (namespace, sysctls, legs, HAProxy start
until a worker serves) by building amphorae directly with ``portus.agent.Agent`` on the same
bridges, so "reconcile overhead" = API-measured ACTIVE time minus the agent's share.

    .venv/bin/python bench/create.py [--n 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import lab
from portus.agent import haproxy, netns
from portus.agent.agent import Agent
from portus.agent.model import AmphoraSpec, NetworkAttachment, RenderedFiles

T = TypeVar("T")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def stats(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(values), 1),
        "p95_ms": round(pct(values, 0.95), 1),
        "min_ms": round(min(values), 1),
        "max_ms": round(max(values), 1),
    }


def api_creates(portus: lab.PortusProc, n: int) -> dict[str, Any]:
    post, active, serving = [], [], []
    for i in range(n):
        t0 = time.perf_counter()
        lb_id = portus.create_lb(f"bench-create-{i}", lab.MEMBERS[:1])
        post.append((time.perf_counter() - t0) * 1000)
        portus.wait_active(lb_id, step=0.002)
        active.append((time.perf_counter() - t0) * 1000)
        lab.wait_http(f"http://{portus.vip(lb_id)}/40b", lab.CLIENT_NS)
        serving.append((time.perf_counter() - t0) * 1000)
        portus.delete_lb(lb_id)
    return {"post": stats(post), "active": stats(active), "serving": stats(serving)}


class Timer:
    """Wraps module functions to add up the time spent in each (per creation)."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}

    def wrap(self, module: Any, name: str, label: str) -> None:
        fn: Callable[..., Any] = getattr(module, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                ms = (time.perf_counter() - t0) * 1000
                self.spent[label] = self.spent.get(label, 0.0) + ms

        setattr(module, name, timed)


HAP_CFG = """global
    master-worker
    httpclient.ssl.verify none
    maxconn 4000
    nbthread 1
    stats socket {dir}/haproxy.sock mode 600 level admin expose-fd listeners
defaults
    mode http
    timeout connect 5s
    timeout client 50s
    timeout server 50s
frontend fe
    bind {vip}:80
    default_backend be
backend be
    server m1 {member}:80
"""


def agent_breakdown(work: Path, n: int) -> dict[str, Any]:
    """The agent's steps for a SINGLE amphora like the one the API builds."""
    agent = Agent(work / "agent")
    timer = Timer()
    timer.wrap(netns, "create_netns", "netns (ip netns add, lo up)")
    timer.wrap(netns, "enable_forwarding", "sysctls (forwarding)")
    timer.wrap(netns, "tune_amphora", "sysctls (tuning)")
    timer.wrap(netns, "add_leg", "veth legs (2)")
    timer.wrap(haproxy, "start", "haproxy -W -D start until a worker serves")
    rows: list[dict[str, float]] = []
    try:
        for i in range(n):
            amp_id = str(uuid.uuid4())
            vip = f"{lab.VIP_NET}.{200 + i % 20}"
            spec = AmphoraSpec(
                amp_id,
                (
                    NetworkAttachment(lab.VIP_BRIDGE, vip, 24, f"{lab.VIP_NET}.1"),
                    NetworkAttachment(lab.MEM_BRIDGE, f"{lab.MEM_NET}.{200 + i % 20}", 24,
                                      quickack=True),
                ),
            )  # fmt: skip
            timer.spent.clear()
            t0 = time.perf_counter()
            info = agent.create_amphora(spec)
            t1 = time.perf_counter()
            cfg = HAP_CFG.format(dir=info.run_dir, vip=vip, member=lab.MEMBERS[0])
            result = agent.apply(amp_id, RenderedFiles(haproxy_cfg=cfg))
            t2 = time.perf_counter()
            if result.error:
                raise RuntimeError(result.error)
            lab.wait_http(f"http://{vip}/40b", lab.CLIENT_NS)
            t3 = time.perf_counter()
            row = dict(timer.spent)
            row["create_amphora total"] = (t1 - t0) * 1000
            row["apply total (write, haproxy -c, start, probe)"] = (t2 - t1) * 1000
            row["first 200 from the client"] = (t3 - t2) * 1000
            row["total"] = (t3 - t0) * 1000
            rows.append(row)
            agent.delete_amphora(amp_id)
    finally:
        for info in agent.list_amphorae():
            agent.delete_amphora(info.id)
    return {k: round(statistics.median(r[k] for r in rows), 1) for k in rows[0]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="portus-bcr-", dir="/tmp"))
    results: dict[str, Any] = {"meta": lab.machine()}
    with lab.topology(work):
        portus = lab.PortusProc(work)
        try:
            meter = lab.CpuMeter({}, {portus.proc.pid})
            results["meta"]["other_cpu_pct_before"] = meter.wait_quiet(budget=10)
            a = meter.sample()
            results["api"] = api_creates(portus, args.n)
            results["meta"]["cpu_during_api"] = meter.diff(a, meter.sample())
        finally:
            portus.close()
        results["agent_breakdown_median_ms"] = agent_breakdown(work, min(args.n, 10))
    path = lab.write_result("create", results)
    print(json_dump(results))
    print(f"results: {path}")
    return 0


def json_dump(data: dict[str, Any]) -> str:
    import json

    return json.dumps({k: v for k, v in data.items() if k != "meta"}, indent=1)


if __name__ == "__main__":
    raise SystemExit(main())
