"""The HTTPS half of Octavia's reference table: ``ab -c16`` (a full TLS handshake per request)
for 40 B / 100 KiB / 1 MiB, RSA 2048 and ECDSA P-256, Portus vs a hand-tuned HAProxy, one run.

Method as ``bench/dataplane.py`` (dataplane.md §1, §3.3), whose lab and summary this reuses:
proxies on CPU1, client and the 16 members on CPU0, targets interleaved with rotating order,
repetitions with other work above 15 % of a CPU dropped when a cleaner one exists. The Portus
LB has two TERMINATED_HTTPS listeners (RSA on :443, ECDSA on :8443) whose certificates go
through its own key manager; the hand-tuned HAProxy (dataplane.md §1 config plus ``bind ... ssl
crt <file> alpn http/1.1``) runs in a namespace shaped like an amphora, with the same files.

    .venv/bin/python bench/tls.py [--reps 3] [--seconds 2]
"""

from __future__ import annotations

import argparse
import base64
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import dataplane, lab

KINDS = {"rsa": (443, ["-newkey", "rsa:2048"]),
         "ecdsa": (8443, ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"])}  # fmt: skip
TLS_FRONTEND = """frontend fe_https_{kind}
    bind {ip}:{port} ssl crt {crt} alpn http/1.1 backlog 65535
    default_backend be_members
"""


def make_cert(work: Path, kind: str) -> Path:
    """A self-signed certificate + key bundle (ab does not verify)."""
    key, crt = work / f"{kind}.key", work / f"{kind}.crt"
    subprocess.run(
        ["openssl", "req", "-x509", *KINDS[kind][1], "-nodes", "-days", "2",
         "-subj", f"/CN=bench-{kind}.example.com", "-keyout", str(key), "-out", str(crt)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    bundle = work / f"{kind}.pem"
    bundle.write_bytes(crt.read_bytes() + key.read_bytes())
    return bundle


def start_tuned_tls(work: Path, bundles: dict[str, Path]) -> tuple[lab.Netns, int, str]:
    """dataplane.md §1's HAProxy with its TLS frontends, in the namespace ``dataplane``'s
    anchor uses (its plain-HTTP HAProxy is stopped: only one proxy per namespace)."""
    ns, plain_pid, _ = dataplane.start_tuned(work)
    dataplane.stop_pid(plain_pid)
    servers = "\n".join(f"    server m{i + 1:02d} {a}:80" for i, a in enumerate(lab.MEMBERS))
    cfg = dataplane.TUNED_CFG.format(dir=work, ip=dataplane.HAP_IP, servers=servers)
    cfg += "".join(
        TLS_FRONTEND.format(kind=k, ip=dataplane.HAP_IP, port=KINDS[k][0], crt=bundles[k])
        for k in KINDS
    )
    (work / "tuned-tls.cfg").write_text(cfg)
    pidfile = work / "tuned-tls.pid"
    lab.sh(*lab.in_ns(dataplane.HAP_NS, lab.PROXY_CPU, "haproxy", "-D", "-p", str(pidfile),
                      "-f", str(work / "tuned-tls.cfg")))  # fmt: skip
    return ns, int(pidfile.read_text().split()[0]), cfg


def wait_https(url: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = subprocess.run(
            ["ip", "netns", "exec", lab.CLIENT_NS, "curl", "-sk", "-o", "/dev/null",
             "-w", "%{http_code}", "--max-time", "1", url],
            capture_output=True, text=True, check=False,
        ).stdout  # fmt: skip
        if out.strip() == "200":
            return
        time.sleep(0.02)
    raise RuntimeError(f"{url} did not answer 200 within {timeout}s")


def store(portus: lab.PortusProc, bundle: Path) -> str:
    body = {
        "name": bundle.stem,
        "payload": base64.b64encode(bundle.read_bytes()).decode(),
        "payload_content_type": "application/octet-stream",
        "payload_content_encoding": "base64",
    }
    r = portus.client.post("/key-manager/v1/secrets", json=body)
    r.raise_for_status()
    return str(r.json()["secret_ref"])


def create_tls_lb(portus: lab.PortusProc, refs: dict[str, str]) -> str:
    """One LB, a TERMINATED_HTTPS listener per certificate kind, each with the 16 members."""
    members = [{"address": a, "protocol_port": 80, "subnet_id": "bmem"} for a in lab.MEMBERS]
    listeners = [
        {
            "name": f"tls-{kind}",
            "protocol": "TERMINATED_HTTPS",
            "protocol_port": port,
            "default_tls_container_ref": refs[kind],
            "default_pool": {
                "name": f"tls-{kind}",
                "protocol": "HTTP",
                "lb_algorithm": "ROUND_ROBIN",
                "members": members,
            },
        }
        for kind, (port, _) in KINDS.items()
    ]
    body = {"name": "bench-tls", "vip_subnet_id": "bvip", "listeners": listeners}
    r = portus.client.post(lab.LBS, json={"loadbalancer": body})
    r.raise_for_status()
    return str(r.json()["loadbalancer"]["id"])


def cpu_cost(rows: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """Median proxy CPU per request (ms) per phase, size and target: what a handshake plus a
    response costs each proxy, which other work on the machine distorts far less than req/s."""
    samples: dict[tuple[str, str, str], list[float]] = {}
    for r in rows:
        if r["rps"] > 0:
            key = (r["phase"], r["size"], r["target"])
            samples.setdefault(key, []).append(10.0 * r.get("proxy_cpu_pct", 0.0) / r["rps"])
    out: dict[str, dict[str, dict[str, float]]] = {}
    for (phase, size, target), values in sorted(samples.items()):
        out.setdefault(phase, {}).setdefault(size, {})[target] = round(statistics.median(values), 3)
    return out


def start_perf(out: Path, pids: list[int]) -> subprocess.Popen[bytes]:
    """``perf record -g`` on ``pids`` until SIGINT (for comparing where each proxy's CPU goes)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        ["perf", "record", "-q", "-g", "-o", str(out), "-p", ",".join(map(str, pids))],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(0.3)
    return proc


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=2)
    ap.add_argument("--quiet-budget", type=float, default=4.0, help="max s to wait for quiet")
    ap.add_argument("--no-anchor-cgroup", action="store_true",
                    help="leave the anchor in the caller's cgroup (renice only)")  # fmt: skip
    ap.add_argument("--kinds", default=",".join(KINDS), help="certificate kinds to run, e.g. rsa")
    ap.add_argument("--sizes", default=",".join(lab.SIZES), help="body sizes to run, e.g. 40b")
    ap.add_argument("--perf", type=Path, default=None,
                    help="also perf record -g each target's proxy into this directory")  # fmt: skip
    args = ap.parse_args()
    kinds = [k for k in args.kinds.split(",") if k]
    sizes = [s for s in args.sizes.split(",") if s]
    work = Path(tempfile.mkdtemp(prefix="portus-btls-", dir="/tmp"))
    meta = lab.machine()
    meta["openssl"] = lab.sh("openssl", "version").strip()
    rows: list[dict[str, Any]] = []
    bundles = {kind: make_cert(work, kind) for kind in KINDS}
    with lab.topology(work):
        portus = lab.PortusProc(work)
        tuned_pid, tuned_ns, tuned_cfg, portus_cfg = 0, None, "", ""
        cgroup = None if args.no_anchor_cgroup else dataplane.anchor_cgroup()
        try:
            tuned_ns, tuned_pid, tuned_cfg = start_tuned_tls(work, bundles)
            if cgroup is not None:
                cgroup.add(lab.netns_pids(dataplane.HAP_NS))
            meta["anchor_cgroup"] = str(cgroup.dir) if cgroup else None
            refs = {kind: store(portus, bundle) for kind, bundle in bundles.items()}
            lb_id = create_tls_lb(portus, refs)
            portus.wait_active(lb_id)
            vip = portus.vip(lb_id)
            targets: dict[str, dict[str, str]] = {}
            for kind, (port, _) in KINDS.items():
                targets[kind] = {
                    "haproxy": f"https://{dataplane.HAP_IP}:{port}",
                    "portus": f"https://{vip}:{port}",
                }
                for url in targets[kind].values():
                    wait_https(f"{url}/40b")
            amp_ns, portus_cfg = lab.pin_amphora(portus, lb_id)
            amp_pids = lab.netns_pids(amp_ns)
            meter = lab.CpuMeter(
                {
                    "client": [lab.CLIENT_NS],
                    "backend": [lab.MEMBER_NS],
                    "proxy": [dataplane.HAP_NS, amp_ns],
                },
                {portus.proc.pid},
            )
            meta["wait_quiet_other_pct"] = meter.wait_quiet(budget=20.0)
            for kind in kinds:
                phase = f"tlsab16-{kind}"
                names = list(targets[kind])
                for size in sizes:
                    for rep in range(args.reps):
                        order = names[rep % len(names) :] + names[: rep % len(names)]
                        for target in order:
                            meter.wait_quiet(budget=args.quiet_budget)
                            perf = None
                            if args.perf is not None:
                                pids = (
                                    amp_pids
                                    if target == "portus"
                                    else lab.netns_pids(dataplane.HAP_NS)
                                )
                                perf = start_perf(args.perf / f"{phase}-{size}-{target}-{rep}.data",
                                                  pids)  # fmt: skip
                            a = meter.sample()
                            res = lab.run_ab(f"{targets[kind][target]}/{size}", args.seconds)
                            cpu = meter.diff(a, meter.sample())
                            if perf is not None:
                                perf.send_signal(signal.SIGINT)
                                perf.wait(timeout=60)
                            row = {"phase": phase, "size": size, "target": target, "rep": rep}
                            row.update(res)
                            row.update(cpu)
                            rows.append(row)
                            print(
                                f"{phase} {size:>4} {target:>7} rep{rep}: {res['rps']:>7,.0f} "
                                f"req/s err={res['errors']:.0f} proxy={cpu.get('proxy_cpu_pct')}% "
                                f"other={cpu.get('other_cpu_pct')}%",
                                flush=True,
                            )
            portus.delete_lb(lb_id)
        finally:
            if tuned_pid:
                dataplane.stop_pid(tuned_pid)
            if tuned_ns is not None:
                tuned_ns.close()
            if cgroup is not None:
                cgroup.close()
            portus.close()
    summary = dataplane.summarise(rows)
    cost = cpu_cost(rows)
    path = lab.write_result(
        "tls",
        {
            "meta": meta,
            "rows": rows,
            "summary": summary,
            "proxy_cpu_ms_per_request": cost,
            "tuned_cfg": tuned_cfg,
            "portus_cfg": portus_cfg,
        },
    )
    print(dataplane.table(summary))
    print("\nproxy CPU ms per request (median):")
    for phase, by_size in cost.items():
        for size, ms in by_size.items():
            print(f"  {phase} {size:>4}: " + ", ".join(f"{t} {v}" for t, v in ms.items()))
    print(f"\nresults: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
