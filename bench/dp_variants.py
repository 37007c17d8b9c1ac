"""A/B experiments behind R_tuned: which difference between a Portus amphora and the
hand-tuned HAProxy costs throughput. One run, all variants interleaved (rotating order) per
size, same lab and CPU split as ``bench/dataplane.py``.

Variants (``--variants``, comma separated):

* ``haproxy``: the hand-tuned anchor (dataplane.md §1) in its amphora-shaped namespace;
* ``pcfg``: Portus' rendered ``haproxy.cfg`` run like the anchor (same namespace, root cgroup,
  no nftables): the cost of the configuration alone;
* ``pcfg+LINE``...: the anchor's config with Portus' lines added (see ``EXTRA``);
* ``portus``: a Portus LB as created (its amphora, cgroup, nftables);
* ``portus-nonft``: a Portus LB whose amphora's nftables ruleset is flushed after creation;
* ``portus-nocg``: a Portus LB whose processes are moved to the root CPU cgroup (no quota);
* ``portus-noquota``: a Portus LB whose cgroup keeps its place but has no CFS quota.

    .venv/bin/python bench/dp_variants.py --variants haproxy,pcfg,portus,portus-nonft \\
        [--reps 3] [--seconds 2] [--phases ab16,ka16] [--sizes 40b,100k]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import dataplane, lab

# Lines Portus renders that the anchor lacks, by name, inserted into the anchor's sections.
EXTRA: dict[str, tuple[str, str]] = {
    "retries": ("defaults", "retries 3"),
    "redispatch": ("defaults", "option redispatch"),
    "idleclose": ("defaults", "option idle-close-on-response"),
    "fullconn": ("backend", "fullconn 50000"),
    "allbackups": ("backend", "option allbackups"),
    "maxconn8k": ("global", "maxconn 8000"),
}
CGROUP_CPU_ROOT = Path("/sys/fs/cgroup/cpu")


def anchor_with(extra: list[str]) -> str:
    """The anchor's config text with the ``EXTRA`` lines named in ``extra`` added."""
    servers = "\n".join(f"    server m{i + 1:02d} {a}:80" for i, a in enumerate(lab.MEMBERS))
    cfg = dataplane.TUNED_CFG.format(dir="{dir}", ip="{ip}", servers=servers)
    for name in extra:
        section, line = EXTRA[name]
        header = {"global": "global\n", "defaults": "defaults\n", "backend": "balance roundrobin\n"}
        cfg = cfg.replace(header[section], f"{header[section]}    {line}\n", 1)
    return cfg


def start_cfg(work: Path, name: str, ip: str, cfg_template: str) -> int:
    """Run a config in the anchor's namespace on ``ip`` (an extra address on its VIP leg)."""
    d = work / name
    d.mkdir()
    cfg = cfg_template.replace("{dir}", str(d)).replace("{ip}", ip)
    (d / "haproxy.cfg").write_text(cfg)
    lab.sh("ip", "-n", dataplane.HAP_NS, "addr", "add", f"{ip}/24", "dev", "eth0")
    pidfile = d / "pid"
    lab.sh(*lab.in_ns(dataplane.HAP_NS, lab.PROXY_CPU, "haproxy", "-D", "-p", str(pidfile),
                      "-f", str(d / "haproxy.cfg")))  # fmt: skip
    lab.wait_http(f"http://{ip}/40b", lab.CLIENT_NS)
    return int(pidfile.read_text().split()[0])


def portus_as_template(cfg: str) -> str:
    """Portus' rendered config with its bind address and state paths made portable."""
    cfg = re.sub(r"bind [0-9.]+:80", "bind {ip}:80", cfg)
    cfg = re.sub(r"stats socket \S+", "stats socket {dir}/hap.sock", cfg)
    return re.sub(r"server-state-file \S+", "server-state-file {dir}/state", cfg)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", default="haproxy,pcfg,portus,portus-nonft,portus-nocg")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=2)
    ap.add_argument("--phases", default="ab16,ka16")
    ap.add_argument("--sizes", default="40b,100k,1m")
    ap.add_argument("--quiet-budget", type=float, default=4.0)
    ap.add_argument("--no-anchor-cgroup", action="store_true")
    ap.add_argument("--perf", type=Path, help="record a system-wide perf profile per run here")
    args = ap.parse_args()
    variants = args.variants.split(",")
    work = Path(tempfile.mkdtemp(prefix="portus-bdpv-", dir="/tmp"))
    meta = lab.machine()
    rows: list[dict[str, Any]] = []
    pids: list[int] = []
    cfgs: dict[str, str] = {}
    with lab.topology(work):
        portus = lab.PortusProc(work)
        tuned_ns = None
        cgroup = None
        try:
            tuned_ns, tuned_pid, cfgs["haproxy"] = dataplane.start_tuned(work)
            pids.append(tuned_pid)
            targets = {"haproxy": f"http://{dataplane.HAP_IP}"}
            proxy_ns = [dataplane.HAP_NS]
            portus_cfg = ""
            for i, v in enumerate(x for x in variants if x.startswith("portus")):
                lb_id = portus.create_lb(f"bench-{v}", lab.MEMBERS)
                portus.wait_active(lb_id)
                vip = portus.vip(lb_id)
                lab.wait_http(f"http://{vip}/40b", lab.CLIENT_NS)
                amp_ns, portus_cfg = lab.pin_amphora(portus, lb_id)
                amp_pids = lab.netns_pids(amp_ns)
                cfgs[v] = portus_cfg
                cfgs[f"{v}-nft"] = lab.sh("ip", "netns", "exec", amp_ns, "nft", "list", "ruleset")
                if v == "portus-nonft":
                    lab.sh("ip", "netns", "exec", amp_ns, "nft", "flush", "ruleset")
                if v == "portus-nocg":
                    for pid in amp_pids:
                        (CGROUP_CPU_ROOT / "cgroup.procs").write_text(str(pid))
                if v == "portus-noquota":
                    for cg in (d for d in CGROUP_CPU_ROOT.glob("portus/*") if d.is_dir()):
                        procs = (cg / "cgroup.procs").read_text().split()
                        if any(int(p) in amp_pids for p in procs):
                            (cg / "cpu.cfs_quota_us").write_text("-1")
                targets[v] = f"http://{vip}"
                proxy_ns.append(amp_ns)
                meta[f"{v}_ns"] = amp_ns
                del i
            if not portus_cfg:
                lb_id = portus.create_lb("bench-cfg", lab.MEMBERS)
                portus.wait_active(lb_id)
                amp_ns = portus.amphora_netns(lb_id)
                amp_dir = next(d for d in portus.amphora_dirs() if amp_ns.endswith(d.name))
                portus_cfg = (amp_dir / "haproxy.cfg").read_text()
            for n, v in enumerate(x for x in variants if x.startswith("pcfg")):
                ip = f"{lab.VIP_NET}.{240 - n}"
                if v == "pcfg":
                    tmpl = portus_as_template(portus_cfg)
                else:
                    tmpl = anchor_with(v.split("+")[1:])
                cfgs[v] = tmpl
                pids.append(start_cfg(work, v.replace("+", "_"), ip, tmpl))
                targets[v] = f"http://{ip}"
            names = [v for v in variants if v in targets]
            if not args.no_anchor_cgroup:
                cgroup = dataplane.anchor_cgroup()
                cgroup.add(lab.netns_pids(dataplane.HAP_NS))
            meter = lab.CpuMeter(
                {"client": [lab.CLIENT_NS], "backend": [lab.MEMBER_NS], "proxy": proxy_ns},
                {portus.proc.pid},
            )
            meta["wait_quiet_other_pct"] = meter.wait_quiet(budget=20.0)
            for phase in args.phases.split(","):
                tool = lab.run_ab if phase.startswith("ab") else lab.run_wrk
                for size in args.sizes.split(","):
                    for rep in range(args.reps):
                        order = names[rep % len(names) :] + names[: rep % len(names)]
                        for target in order:
                            meter.wait_quiet(budget=args.quiet_budget)
                            a = meter.sample()
                            rec = None
                            if args.perf:
                                args.perf.mkdir(parents=True, exist_ok=True)
                                out = args.perf / f"{phase}-{size}-{target}-{rep}.data"
                                rec = start_perf(out, args.seconds + 3)
                                time.sleep(1.5)  # perf's start-up; only our processes count
                            res = tool(f"{targets[target]}/{size}", args.seconds)
                            if rec is not None:
                                rec.wait(30)
                                res.update(perf_cost(out, res["requests"]))
                            cpu = meter.diff(a, meter.sample())
                            row = {"phase": phase, "size": size, "target": target, "rep": rep}
                            row.update(res)
                            row.update(cpu)
                            rows.append(row)
                            print(
                                f"{phase} {size:>4} {target:>16} rep{rep}: {res['rps']:>9,.0f} "
                                f"req/s proxy={cpu.get('proxy_cpu_pct')}% "
                                f"cpu1={cpu.get('cpu1_busy_pct')}% "
                                f"other={cpu.get('other_cpu_pct')}% "
                                f"us/req cpu0={res.get('cpu0_us_per_req', '-')} "
                                f"cpu1={res.get('cpu1_us_per_req', '-')}",
                                flush=True,
                            )
        finally:
            for pid in pids:
                dataplane.stop_pid(pid)
            if tuned_ns is not None:
                tuned_ns.close()
            if cgroup is not None:
                cgroup.close()
            portus.close()
    summary = summarise(rows, names)
    path = lab.write_result("dp_variants", {"meta": meta, "rows": rows, "summary": summary,
                                            "configs": cfgs})  # fmt: skip
    for line in summary:
        print(line)
    print(f"\nresults: {path}")
    return 0


OURS = ("haproxy", "ab", "wrk", "nginx", "ksoftirqd/0", "ksoftirqd/1")
PERF_PERIOD_US = 250


def start_perf(out: Path, seconds: int) -> subprocess.Popen[bytes]:
    """A system-wide ``cpu-clock`` profile (fixed period) for ``seconds``."""
    period_ns = str(PERF_PERIOD_US * 1000)
    argv = ["perf", "record", "-a", "-q", "-e", "cpu-clock", "-c", period_ns, "-o", str(out)]
    return subprocess.Popen(
        [*argv, "--", "sleep", str(seconds)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def perf_cost(data: Path, requests: float) -> dict[str, float]:
    """CPU time (us) per request, per CPU, of the benchmark's own processes (client, members,
    proxies; softirq work is charged to whichever of them was running), from a
    ``cpu-clock`` profile with a fixed period: unlike req/s, hardly moved by other work."""
    out = subprocess.run(
        ["perf", "report", "-i", str(data), "--sort", "cpu,comm", "--stdio", "-q", "-n"],
        capture_output=True, text=True, check=False,
    ).stdout  # fmt: skip
    samples = {0: 0, 1: 0}
    for line in out.splitlines():
        m = re.match(r"\s*[\d.]+%\s+(\d+)\s+(\d+)\s+(\S+)", line)
        if m and m.group(3) in OURS and int(m.group(2)) in samples:
            samples[int(m.group(2))] += int(m.group(1))
    if not requests:
        return {}
    return {f"cpu{c}_us_per_req": round(n * PERF_PERIOD_US / requests, 1)
            for c, n in samples.items()}  # fmt: skip


def summarise(rows: list[dict[str, Any]], names: list[str]) -> list[str]:
    """Median req/s per variant and its paired ratio to the anchor, as table lines."""
    import statistics

    out = ["| phase | size | " + " | ".join(names) + " |", "|---" * (len(names) + 2) + "|"]
    for phase in dict.fromkeys(r["phase"] for r in rows):
        for size in dict.fromkeys(r["size"] for r in rows if r["phase"] == phase):
            cells = []
            sel = [r for r in rows if r["phase"] == phase and r["size"] == size]
            base = {r["rep"]: r["rps"] for r in sel if r["target"] == "haproxy"}
            for n in names:
                mine = [r for r in sel if r["target"] == n]
                clean = [r for r in mine if r["other_cpu_pct"] <= 15.0] or mine
                med = statistics.median(r["rps"] for r in clean)
                pairs = [r["rps"] / base[r["rep"]] for r in mine if base.get(r["rep"])]
                ratio = statistics.median(pairs) if pairs else 0.0
                cell = f"{med:,.0f} ({ratio:.2f})"
                costs = [(r["cpu0_us_per_req"], r["cpu1_us_per_req"]) for r in mine
                         if "cpu0_us_per_req" in r]  # fmt: skip
                if costs:
                    c0 = statistics.median(c[0] for c in costs)
                    c1 = statistics.median(c[1] for c in costs)
                    cell += f" {c0:.0f}+{c1:.0f} us"
                cells.append(cell)
            out.append(f"| {phase} | {size} | " + " | ".join(cells) + " |")
    return out


if __name__ == "__main__":
    raise SystemExit(main())
