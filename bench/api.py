"""API benchmark: create-to-ACTIVE latency, a full stack, list and show throughput (noop path).

Starts its own Portus (``portus up --provider noop``) on a free loopback port with a fresh state
directory, so it measures exactly what a newcomer would run. Usage:

    .venv/bin/python bench/api.py [--out bench/results/api.json] [--quick]

Prints a Markdown table; docs/benchmarks.md records the figures with the machine and date.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
LBS = "/v2/lbaas/loadbalancers"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_portus(state: Path, port: int, read_cache: bool = True) -> subprocess.Popen[bytes]:
    exe = Path(sys.executable).parent / "portus"
    log = (state / "portus.log").open("wb")
    proc = subprocess.Popen(
        [
            str(exe),
            "up",
            "--provider",
            "noop",
            "--bind",
            f"127.0.0.1:{port}",
            "--state-dir",
            str(state),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={
            **os.environ,
            "PORTUS_LOG_LEVEL": "warning",
            "PORTUS_READ_CACHE": "1" if read_cache else "0",
            # A /16, so the 1,000-LB list has addresses for all its VIPs.
            "PORTUS_SUBNETS": json.dumps(
                [
                    {
                        "id": "public",
                        "name": "public",
                        "network_id": "public",
                        "network_name": "public",
                        "cidr": "10.200.0.0/16",
                        "gateway": "10.200.0.1",
                        "bridge": "portus-pub",
                    }
                ]
            ),
        },
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("portus did not start")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def wait_active(client: httpx.Client, path: str, key: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get(path).json()[key]["provisioning_status"]
        if status == "ACTIVE":
            return
        if status == "ERROR":
            raise RuntimeError(f"{path} went ERROR")
        time.sleep(0.002)
    raise RuntimeError(f"{path} not ACTIVE in {timeout}s")


def create_lb(client: httpx.Client, name: str) -> str:
    r = client.post(LBS, json={"loadbalancer": {"vip_subnet_id": "public", "name": name}})
    r.raise_for_status()
    return str(r.json()["loadbalancer"]["id"])


def bench_create(client: httpx.Client, n: int) -> dict[str, float]:
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        lb_id = create_lb(client, f"c{i}")
        wait_active(client, f"{LBS}/{lb_id}", "loadbalancer")
        times.append((time.perf_counter() - t0) * 1000)
    return {"p50_ms": statistics.median(times), "p95_ms": pct(times, 0.95)}


def bench_stack(client: httpx.Client, runs: int) -> dict[str, float]:
    """LB + listener + pool + monitor + 10 members, each waited to ACTIVE (as tempest does)."""
    totals = []
    for run in range(runs):
        t0 = time.perf_counter()
        lb_id = create_lb(client, f"stack{run}")
        lb_path = f"{LBS}/{lb_id}"
        wait_active(client, lb_path, "loadbalancer")
        r = client.post(
            "/v2/lbaas/listeners",
            json={"listener": {"loadbalancer_id": lb_id, "protocol": "HTTP", "protocol_port": 80}},
        )
        r.raise_for_status()
        listener_id = r.json()["listener"]["id"]
        wait_active(client, lb_path, "loadbalancer")
        r = client.post(
            "/v2/lbaas/pools",
            json={
                "pool": {
                    "listener_id": listener_id,
                    "protocol": "HTTP",
                    "lb_algorithm": "ROUND_ROBIN",
                }
            },
        )
        r.raise_for_status()
        pool_id = r.json()["pool"]["id"]
        wait_active(client, lb_path, "loadbalancer")
        r = client.post(
            "/v2/lbaas/healthmonitors",
            json={
                "healthmonitor": {
                    "pool_id": pool_id,
                    "type": "HTTP",
                    "delay": 5,
                    "timeout": 3,
                    "max_retries": 3,
                }
            },
        )
        r.raise_for_status()
        wait_active(client, lb_path, "loadbalancer")
        for m in range(10):
            r = client.post(
                f"/v2/lbaas/pools/{pool_id}/members",
                json={"member": {"address": f"10.0.0.{m + 10}", "protocol_port": 8080}},
            )
            r.raise_for_status()
            wait_active(client, lb_path, "loadbalancer")
        totals.append((time.perf_counter() - t0) * 1000)
    return {"median_ms": statistics.median(totals)}


def load(url: str, path: str, clients: int, seconds: float) -> dict[str, float]:
    """``clients`` threads hitting ``path`` for ``seconds`` (bounded); latency and req/s."""
    latencies: list[float] = []
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds
    errors = [0]

    def worker() -> None:
        mine: list[float] = []
        with httpx.Client(base_url=url, timeout=30) as c:
            while time.perf_counter() < stop_at and len(mine) < 100_000:
                t0 = time.perf_counter()
                r = c.get(path)
                mine.append((time.perf_counter() - t0) * 1000)
                if r.status_code != 200:
                    errors[0] += 1
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    return {
        "p50_ms": statistics.median(latencies),
        "p95_ms": pct(latencies, 0.95),
        "req_per_s": len(latencies) / elapsed,
        "errors": errors[0],
    }


def fill(client: httpx.Client, total: int) -> None:
    have = len(client.get(LBS).json()["loadbalancers"])
    for i in range(have, total):
        create_lb(client, f"fill{i}")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        lbs = client.get(LBS, params={"provisioning_status": "ACTIVE", "fields": "id"}).json()
        if len(lbs["loadbalancers"]) >= total:
            return
        time.sleep(0.2)


def run_variant(
    args: argparse.Namespace, read_cache: bool, n_create: int, seconds: float
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="portus-bench-") as tmp:
        port = free_port()
        proc = start_portus(Path(tmp), port, read_cache)
        url = f"http://127.0.0.1:{port}"
        try:
            with httpx.Client(base_url=url, timeout=30) as client:
                steps: list[tuple[str, Callable[[], dict[str, float]]]] = [
                    ("create_to_active", lambda: bench_create(client, n_create)),
                    ("stack_10_members", lambda: bench_stack(client, 3 if args.quick else 5)),
                ]
                for name, fn in steps:
                    results[name] = fn()
                    print(name, json.dumps(results[name]), flush=True)
                for total in (100, 1000):
                    fill(client, total)
                    for clients in (1, 16):
                        key = f"list_{total}_c{clients}"
                        results[key] = load(url, f"{LBS}?limit={total}", clients, seconds)
                        print(key, json.dumps(results[key]), flush=True)
                one = client.get(LBS, params={"limit": 1}).json()["loadbalancers"][0]["id"]
                for clients in (1, 16):
                    key = f"show_c{clients}"
                    results[key] = load(url, f"{LBS}/{one}", clients, seconds)
                    print(key, json.dumps(results[key]), flush=True)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
    return results


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "api.json")
    ap.add_argument("--quick", action="store_true", help="small counts, for a smoke run")
    args = ap.parse_args()
    n_create = 20 if args.quick else 100
    seconds = 2.0 if args.quick else 8.0
    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": (
            f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        ),
    }
    # Every figure twice: with the GET response cache (the default) and without it, so the
    # cost of a real read is on record too (the benchmark's reads repeat with no write
    # between them, which is exactly when the cache answers).
    for variant, read_cache in (("cached", True), ("uncached", False)):
        print(f"-- {variant}", flush=True)
        results[variant] = run_variant(args, read_cache, n_create, seconds)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
