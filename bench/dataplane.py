"""Octavia's reference table (ab -c16; 40 B / 100 KiB / 1 MiB; 16 members) and wrk keep-alive rows,
against direct-to-member, a hand-tuned HAProxy (dataplane.md §1) and a Portus LB, in one run.

Method (dataplane.md §1, §5): all three targets interleaved per size with rotating order, the
proxies pinned to CPU1 (Portus' amphora HAProxy is pinned with ``taskset`` after creation and
reniced like the hand-tuned one; the hand-tuned one runs in a CPU cgroup shaped like the
amphora's, ``portus-bench/anchor`` with a 1.0-CPU quota, so that other work on CPU1 takes the
same share from both; ``--no-anchor-cgroup`` for the old setup), client and members on CPU0;
CPU used by other work is recorded
per repetition and a repetition above 15 % of a CPU is dropped when a cleaner one exists.
R_tuned = Portus / hand-tuned HAProxy (median req/s; also paired per repetition).

    .venv/bin/python bench/dataplane.py [--reps 3] [--seconds 2] [--phases ab16,ka16]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import lab

HAP_IP = f"{lab.VIP_NET}.249"
HAP_NS = f"portus-bhap{lab.SUFFIX}"

TUNED_CFG = """global
    master-worker
    nbthread 1
    maxconn 5000
    tune.bufsize 65536
    stats socket {dir}/hap.sock mode 600 level admin expose-fd listeners
    ssl-default-bind-options ssl-min-ver TLSv1.2
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    timeout http-request 10s
    timeout http-keep-alive 30s
    option http-keep-alive
    no option http-server-close
    http-reuse always
    maxconn 5000
frontend fe_http
    bind {ip}:80 backlog 65535
    default_backend be_members
backend be_members
    balance roundrobin
{servers}
"""


ANCHOR_CGROUP = f"portus-bench{lab.SUFFIX}"


def anchor_cgroup() -> lab.CpuCgroup:
    """The anchor's CPU cgroup, shaped like a Portus amphora's (flavor default ``cpus=1.0``)."""
    return lab.CpuCgroup(ANCHOR_CGROUP, "anchor", cpus=1.0)


def start_tuned(work: Path) -> tuple[lab.Netns, int, str]:
    """The hand-tuned anchor: its own namespace shaped like an amphora (VIP leg, member leg
    with quickack, same sysctls), HAProxy on CPU1. Returns (netns, master pid, config).
    The caller moves its processes into :func:`anchor_cgroup` (see ``lab.CpuCgroup``)."""
    ns = lab.Netns(HAP_NS)
    ns.leg(lab.VIP_BRIDGE, [HAP_IP])
    ns.leg(lab.MEM_BRIDGE, [f"{lab.MEM_NET}.249"], quickack_net=f"{lab.MEM_NET}.0/24")
    ns.sysctl(
        net__core__somaxconn="65535",
        net__ipv4__tcp_max_syn_backlog="65535",
        net__ipv4__tcp_tw_reuse="1",
    )
    servers = "\n".join(f"    server m{i + 1:02d} {a}:80" for i, a in enumerate(lab.MEMBERS))
    cfg = TUNED_CFG.format(dir=work, ip=HAP_IP, servers=servers)
    (work / "tuned.cfg").write_text(cfg)
    pidfile = work / "tuned.pid"
    lab.sh(*lab.in_ns(HAP_NS, lab.PROXY_CPU, "haproxy", "-D", "-p", str(pidfile), "-f",
                      str(work / "tuned.cfg")))  # fmt: skip
    lab.wait_http(f"http://{HAP_IP}/40b", lab.CLIENT_NS)
    return ns, int(pidfile.read_text().split()[0]), cfg


def stop_pid(pid: int) -> None:
    subprocess.run(["kill", "-TERM", str(pid)], check=False, capture_output=True)
    deadline = time.monotonic() + 5
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per (phase, size, target): median req/s over clean repetitions; R_tuned, R_lb."""
    out: dict[str, Any] = {}
    keys = sorted({(r["phase"], r["size"], r["target"]) for r in rows})
    for phase, size, target in keys:
        reps = [r for r in rows if (r["phase"], r["size"], r["target"]) == (phase, size, target)]
        clean = [r for r in reps if r["other_cpu_pct"] <= 15.0] or reps
        out.setdefault(phase, {}).setdefault(size, {})[target] = {
            "rps_median": statistics.median(r["rps"] for r in clean),
            "rps_min": min(r["rps"] for r in clean),
            "rps_max": max(r["rps"] for r in clean),
            "errors": sum(r["errors"] for r in reps),
            "p50_ms": statistics.median(r["p50_ms"] for r in clean),
            "p99_ms": statistics.median(r["p99_ms"] for r in clean),
            "other_cpu_pct": statistics.median(r["other_cpu_pct"] for r in clean),
            "proxy_cpu_pct": statistics.median(r.get("proxy_cpu_pct", 0.0) for r in clean),
            "n": f"{len(clean)}/{len(reps)}",
        }
    for _phase, sizes in out.items():
        for size, targets in sizes.items():
            if {"portus", "haproxy"} <= set(targets):
                ours = targets["portus"]["rps_median"]
                targets["R_tuned"] = round(ours / max(targets["haproxy"]["rps_median"], 1), 3)
                pairs = [
                    a["rps"] / b["rps"]
                    for a in rows
                    for b in rows
                    if a["target"] == "portus"
                    and b["target"] == "haproxy"
                    and a["phase"] == b["phase"] == _phase
                    and a["size"] == b["size"] == size
                    and a["rep"] == b["rep"]
                    and b["rps"] > 0
                ]
                targets["R_tuned_paired"] = round(statistics.median(pairs), 3) if pairs else None
            if "direct" in targets and "portus" in targets:
                ours = targets["portus"]["rps_median"]
                targets["R_lb"] = round(ours / max(targets["direct"]["rps_median"], 1), 3)
    return out


def table(summary: dict[str, Any]) -> str:
    lines = [
        "| phase | size | direct | hand-tuned HAProxy | Portus | R_tuned (paired) | Portus/direct "
        "| errors | other-work CPU % | n |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for phase, sizes in summary.items():
        for size in lab.SIZES:
            t = sizes.get(size)
            if not t:
                continue

            def rps(name: str, t: dict[str, Any] = t) -> str:
                return f"{t[name]['rps_median']:,.0f}" if name in t else "-"

            errors = sum(int(t[n]["errors"]) for n in ("direct", "haproxy", "portus") if n in t)
            other = max(t[n]["other_cpu_pct"] for n in ("direct", "haproxy", "portus") if n in t)
            ns = " ".join(t[n]["n"] for n in ("direct", "haproxy", "portus") if n in t)
            lines.append(
                f"| {phase} | {size} | {rps('direct')} | {rps('haproxy')} | {rps('portus')} "
                f"| **{t.get('R_tuned', '-')}** ({t.get('R_tuned_paired', '-')}) "
                f"| {t.get('R_lb', '-')} | {errors} | {other} | {ns} |"
            )
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=2)
    ap.add_argument("--phases", default="ab16,ka16")
    ap.add_argument("--quiet-budget", type=float, default=4.0, help="max s to wait for quiet")
    ap.add_argument("--no-anchor-cgroup", action="store_true",
                    help="leave the anchor in the caller's cgroup (renice only)")  # fmt: skip
    args = ap.parse_args()
    phases = args.phases.split(",")
    work = Path(tempfile.mkdtemp(prefix="portus-bdp-", dir="/tmp"))
    meta = lab.machine()
    rows: list[dict[str, Any]] = []
    with lab.topology(work):
        portus = lab.PortusProc(work)
        tuned_pid = 0
        tuned_ns = None
        cgroup = None if args.no_anchor_cgroup else anchor_cgroup()
        try:
            tuned_ns, tuned_pid, tuned_cfg = start_tuned(work)
            if cgroup is not None:
                cgroup.add(lab.netns_pids(HAP_NS))
            meta["anchor_cgroup"] = str(cgroup.dir) if cgroup else None
            t0 = time.monotonic()
            lb_id = portus.create_lb("bench-dp", lab.MEMBERS)
            portus.wait_active(lb_id)
            vip = portus.vip(lb_id)
            lab.wait_http(f"http://{vip}/40b", lab.CLIENT_NS)
            meta["portus_lb_ready_s"] = round(time.monotonic() - t0, 3)
            amp_ns, portus_cfg = lab.pin_amphora(portus, lb_id)
            meter = lab.CpuMeter(
                {
                    "client": [lab.CLIENT_NS],
                    "backend": [lab.MEMBER_NS],
                    "proxy": [HAP_NS, amp_ns],
                },
                {portus.proc.pid},
            )
            targets = {
                "direct": f"http://{lab.MEMBERS[0]}",
                "haproxy": f"http://{HAP_IP}",
                "portus": f"http://{vip}",
            }
            names = list(targets)
            meta["wait_quiet_other_pct"] = meter.wait_quiet(budget=20.0)
            for phase in phases:
                tool = lab.run_ab if phase.startswith("ab") else lab.run_wrk
                for size in lab.SIZES:
                    for rep in range(args.reps):
                        order = names[rep % len(names) :] + names[: rep % len(names)]
                        for target in order:
                            meter.wait_quiet(budget=args.quiet_budget)
                            a = meter.sample()
                            res = tool(f"{targets[target]}/{size}", args.seconds)
                            cpu = meter.diff(a, meter.sample())
                            row = {"phase": phase, "size": size, "target": target, "rep": rep}
                            row.update(res)
                            row.update(cpu)
                            rows.append(row)
                            print(
                                f"{phase} {size:>4} {target:>7} rep{rep}: {res['rps']:>9,.0f} "
                                f"req/s err={res['errors']:.0f} other={cpu.get('other_cpu_pct')}%",
                                flush=True,
                            )
            portus.delete_lb(lb_id)
        finally:
            if tuned_pid:
                stop_pid(tuned_pid)
            if tuned_ns is not None:
                tuned_ns.close()
            if cgroup is not None:
                cgroup.close()
            portus.close()
    summary = summarise(rows)
    path = lab.write_result(
        "dataplane",
        {
            "meta": meta,
            "rows": rows,
            "summary": summary,
            "tuned_cfg": tuned_cfg,
            "portus_cfg": portus_cfg,
        },
    )
    print(table(summary))
    print(f"\nresults: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
