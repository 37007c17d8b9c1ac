"""Memory and processes per idle LB, and how many LBs one host holds (bounded, then all deleted).

Creates up to ``--max`` LBs (HTTP listener, pool of one member) through the API one after
another, sampling every ``--every`` LBs: RSS of all amphora HAProxy processes, the amphora
cgroups' memory usage, process count and the host's MemAvailable. Stops early when a creation
fails, when MemAvailable falls below ``--min-avail-mb``, or after ``--budget`` seconds; then
deletes every LB and checks that no amphora namespace is left.

    .venv/bin/python bench/density.py [--max 200] [--every 25]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import lab


def mem_available_mb() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    return 0.0


def amphora_usage(portus: lab.PortusProc) -> dict[str, float]:
    """RSS (MiB) and count of processes in the amphora namespaces, and cgroup memory."""
    rss_kb, procs, cg_bytes = 0, 0, 0
    names = [f"portus-amp-{d.name}" for d in portus.amphora_dirs()]
    inodes = lab.netns_inodes(names)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if str(Path(entry / "ns" / "net").readlink()) not in inodes:
                continue
            status = (entry / "status").read_text()
        except OSError:
            continue
        procs += 1
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                rss_kb += int(line.split()[1])
    for name in names:
        for path in (
            Path(f"/sys/fs/cgroup/memory/portus/{name}/memory.usage_in_bytes"),
            Path(f"/sys/fs/cgroup/portus/{name}/memory.current"),
        ):
            if path.exists():
                cg_bytes += int(path.read_text())
    return {
        "amphorae": len(names),
        "processes": procs,
        "rss_mib": round(rss_kb / 1024, 1),
        "cgroup_mib": round(cg_bytes / 2**20, 1),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max", type=int, default=200)
    ap.add_argument("--every", type=int, default=25)
    ap.add_argument("--budget", type=float, default=300.0)
    ap.add_argument("--min-avail-mb", type=float, default=4096.0)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="portus-bde-", dir="/tmp"))
    results: dict[str, Any] = {"meta": lab.machine(), "samples": []}
    avail0 = mem_available_mb()
    with lab.topology(work):
        portus = lab.PortusProc(work)
        lbs: list[str] = []
        stop = "reached --max"
        t0 = time.monotonic()
        try:
            for i in range(args.max):
                if time.monotonic() - t0 > args.budget:
                    stop = f"time budget {args.budget:.0f}s"
                    break
                if mem_available_mb() < args.min_avail_mb:
                    stop = f"MemAvailable below {args.min_avail_mb:.0f} MiB"
                    break
                try:
                    lb_id = portus.create_lb(f"bench-density-{i}", lab.MEMBERS[:1])
                    lbs.append(lb_id)
                    portus.wait_active(lb_id)
                except Exception as exc:
                    stop = f"creation {i + 1} failed: {exc}"
                    break
                if (i + 1) % args.every == 0 or i == 0:
                    sample = amphora_usage(portus)
                    sample["lbs"] = i + 1
                    sample["host_mem_used_mib"] = round(avail0 - mem_available_mb(), 1)
                    sample["elapsed_s"] = round(time.monotonic() - t0, 1)
                    results["samples"].append(sample)
                    print(sample, flush=True)
            # Every LB still serves at the end (a sample of 5, spread).
            for lb_id in lbs[:: max(1, len(lbs) // 5)]:
                lab.wait_http(f"http://{portus.vip(lb_id)}/40b", lab.CLIENT_NS, timeout=5)
            results["all_checked_serving"] = True
            results["created"] = len(lbs)
            results["stopped_because"] = stop
            t1 = time.monotonic()
            for lb_id in lbs:
                portus.client.delete(f"{lab.LBS}/{lb_id}", params={"cascade": "true"})
            for lb_id in lbs:
                portus.delete_lb(lb_id, timeout=120)
            results["delete_all_s"] = round(time.monotonic() - t1, 1)
            results["left_after_delete"] = amphora_usage(portus)
        finally:
            ours = {f"portus-amp-{d.name}" for d in portus.amphora_dirs()}
            portus.close()
    left = [n for n in lab.sh("ip", "netns", "list").split() if n in ours]
    results["our_netns_left_after_close"] = len(left)
    path = lab.write_result("density", results)
    print({k: v for k, v in results.items() if k not in ("meta", "samples")})
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
