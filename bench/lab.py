"""The data-plane benchmarks' lab: private bridges, namespaces, member nginx, a Portus.

Everything is created by the benchmark and removed afterwards, all named ``portus-b*``:

* bridges ``portus-bvip`` (VIP subnet ``10.253.0.0/24``) and ``portus-bmem`` (member subnet
  ``10.253.1.0/24``), both with the gateway ``.1`` on the host (Portus' ``local`` driver);
* ``portus-bcli``: the client (``10.253.0.250``, and ``10.253.1.250`` for direct-to-member);
* ``portus-bbe``: 16 member addresses ``10.253.1.231-246`` served by one nginx worker;
* ``portus up`` as a subprocess with ``PORTUS_SUBNETS`` naming those two subnets, so an LB's
  amphora has a VIP leg and a member leg, exactly as a tenant's would.

CPU split as in dataplane.md §1: proxies on CPU1, client and members on CPU0.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
# PORTUS_BENCH_LAB=N (1..50) gives a second lab its own bridges, namespaces and subnets
# (suffix N, 10.253.2N.0/24 and 10.253.2N+1.0/24), so two worktrees' benchmarks do not collide
# on names. They still share the CPUs: never compare numbers taken while another one ran.
LAB = int(os.environ.get("PORTUS_BENCH_LAB", "0"))
SUFFIX = str(LAB) if LAB else ""
VIP_BRIDGE, MEM_BRIDGE = f"portus-bvip{SUFFIX}", f"portus-bmem{SUFFIX}"
VIP_NET, MEM_NET = f"10.253.{2 * LAB}", f"10.253.{2 * LAB + 1}"
CLIENT_NS, MEMBER_NS = f"portus-bcli{SUFFIX}", f"portus-bbe{SUFFIX}"
CLIENT_IP = f"{VIP_NET}.250"
# Lab hosts sit at the top of each /24: Portus' IPAM hands out VIPs and member-leg addresses
# from the bottom, so up to ~220 LBs never collide with them.
MEMBERS = [f"{MEM_NET}.{231 + i}" for i in range(16)]
SIZES = {"40b": 40, "100k": 102_400, "1m": 1_048_576}
PROXY_CPU, CLIENT_CPU = "1", "0"
LBS = "/v2/lbaas/loadbalancers"


def sh(*argv: str, check: bool = True) -> str:
    """Run a command; its stdout."""
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {proc.stderr.strip()}")
    return proc.stdout


def link_exists(name: str) -> bool:
    return subprocess.run(["ip", "link", "show", name], capture_output=True).returncode == 0


def in_ns(ns: str, cpu: str, *argv: str) -> list[str]:
    """argv run in namespace ``ns`` on CPU ``cpu`` at nice -10 (like dataplane.md's runs)."""
    return ["ip", "netns", "exec", ns, "taskset", "-c", cpu, "nice", "-n", "-10", *argv]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def machine() -> dict[str, Any]:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "kernel": platform.release(),
        "cpu": f"{os.cpu_count()} x {cpu}",
        "haproxy": sh("haproxy", "-v").splitlines()[0],
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
    }


def write_result(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(data, indent=1))
    return path


# -- namespaces --------------------------------------------------------------------------------


@dataclass
class Netns:
    """A namespace of ours with veth legs on our bridges; ``close`` removes all of it."""

    name: str
    legs: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        sh("ip", "netns", "add", self.name)
        sh("ip", "-n", self.name, "link", "set", "lo", "up")

    def leg(self, bridge: str, addresses: list[str], quickack_net: str | None = None) -> None:
        idx = len(self.legs)
        host = f"{self.name.replace('portus-', 'pb')}{idx}"[:15]
        inner = f"eth{idx}"
        sh("ip", "link", "add", host, "type", "veth", "peer", "name", inner, "netns", self.name)
        self.legs.append(host)
        sh("ip", "link", "set", host, "master", bridge, "up")
        batch = [f"addr add {a}/24 dev {inner}" for a in addresses]
        batch.append(f"link set {inner} up")
        if quickack_net:
            batch.append(
                f"route replace {quickack_net} dev {inner} proto kernel scope link "
                f"src {addresses[0]} quickack 1"
            )
        subprocess.run(
            ["ip", "-n", self.name, "-b", "-"], input="\n".join(batch) + "\n", text=True, check=True
        )

    def sysctl(self, **values: str) -> None:
        for key, value in values.items():
            sh(
                "ip",
                "netns",
                "exec",
                self.name,
                "sysctl",
                "-qw",
                f"{key.replace('__', '.')}={value}",
            )

    def close(self) -> None:
        for host in self.legs:
            if link_exists(host):
                sh("ip", "link", "del", host, check=False)
        sh("ip", "netns", "del", self.name, check=False)


@contextlib.contextmanager
def bridges() -> Iterator[None]:
    """The two bridges, gateway on the host; refuses to reuse ones left by someone else."""
    made: list[str] = []
    try:
        for name, net in ((VIP_BRIDGE, VIP_NET), (MEM_BRIDGE, MEM_NET)):
            if link_exists(name):
                raise RuntimeError(f"{name} exists: another benchmark run is active?")
            sh("ip", "link", "add", name, "type", "bridge")
            made.append(name)
            sh("ip", "addr", "add", f"{net}.1/24", "dev", name)
            sh("ip", "link", "set", name, "up")
        yield
    finally:
        for name in made:
            sh("ip", "link", "del", name, check=False)


# -- members: one nginx worker serving /40b /100k /1m on 16 addresses ----------------------------


NGINX_CONF = """
user root;
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000000;
    keepalive_timeout 60s;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    default_type application/octet-stream;
    server {{
        listen 80 backlog=65535 reuseport;
        root {dir}/www;
    }}
}}
"""


@contextlib.contextmanager
def member_nginx(work: Path) -> Iterator[subprocess.Popen[bytes]]:
    """nginx (one worker, CPU0) in the members' namespace; stopped by its PID afterwards."""
    www = work / "www"
    www.mkdir(parents=True, exist_ok=True)
    for name, size in SIZES.items():
        (www / name).write_bytes(b"x" * size)
    os.chmod(work, 0o755)
    conf = work / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=work))
    proc = subprocess.Popen(in_ns(MEMBER_NS, CLIENT_CPU, "nginx", "-c", str(conf)))
    try:
        wait_http(f"http://{MEMBERS[0]}/40b", CLIENT_NS)
        yield proc
    finally:
        proc.send_signal(signal.SIGQUIT)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def wait_http(url: str, ns: str, timeout: float = 15.0) -> float:
    """Poll ``url`` from namespace ``ns`` with curl until it answers 200; seconds it took."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        out = subprocess.run(
            ["ip", "netns", "exec", ns, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
             "--max-time", "1", url],
            capture_output=True, text=True,
        ).stdout  # fmt: skip
        if out.strip() == "200":
            return time.monotonic() - t0
        time.sleep(0.01)
    raise RuntimeError(f"{url} did not answer 200 from {ns} within {timeout}s")


@contextlib.contextmanager
def topology(work: Path, with_members: bool = True) -> Iterator[None]:
    """Bridges, client namespace and (optionally) the member namespace with its nginx; the
    benchmark's ``work`` directory is removed last, when everything in it has stopped."""
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, work, True)
        stack.enter_context(bridges())
        client = Netns(CLIENT_NS)
        stack.callback(client.close)
        client.leg(VIP_BRIDGE, [CLIENT_IP])
        client.leg(MEM_BRIDGE, [f"{MEM_NET}.250"])
        members = Netns(MEMBER_NS)
        stack.callback(members.close)
        members.leg(MEM_BRIDGE, MEMBERS)
        members.sysctl(net__core__somaxconn="65535")
        if with_members:
            stack.enter_context(member_nginx(work / "nginx"))
        yield


# -- Portus ------------------------------------------------------------------------------------


def subnets_json() -> str:
    def subnet(name: str, net: str, bridge: str) -> dict[str, str]:
        return {"id": name, "name": name, "network_id": name, "network_name": name,
                "cidr": f"{net}.0/24", "gateway": f"{net}.1", "bridge": bridge}  # fmt: skip

    return json.dumps([subnet("bvip", VIP_NET, VIP_BRIDGE), subnet("bmem", MEM_NET, MEM_BRIDGE)])


class PortusProc:
    """``portus up`` with the amphora provider on the lab's subnets, driven over HTTP."""

    def __init__(self, work: Path) -> None:
        self.state = Path(tempfile.mkdtemp(prefix="portus-b", dir="/tmp"))
        self.port = free_port()
        env = {
            **os.environ,
            "PORTUS_PROVIDER": "amphora",
            "PORTUS_SUBNETS": subnets_json(),
            "PORTUS_LOG_LEVEL": "warning",
            "PORTUS_HEALTH_BIND": f"127.0.0.1:{free_port()}",
            "PORTUS_HOUSEKEEPING_INTERVAL": "3600",
        }
        self.log = (work / "portus.log").open("wb")
        exe = Path(sys.executable).parent / "portus"
        self.proc = subprocess.Popen(
            [str(exe), "up", "--bind", f"127.0.0.1:{self.port}", "--state-dir", str(self.state)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                if self.client.get("/").status_code == 200:
                    return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.close()
        raise RuntimeError(f"portus up did not start; see {work / 'portus.log'}")

    def lb_status(self, lb_id: str) -> str:
        return str(self.client.get(f"{LBS}/{lb_id}").json()["loadbalancer"]["provisioning_status"])

    def wait_active(self, lb_id: str, timeout: float = 60, step: float = 0.005) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.lb_status(lb_id)
            if status == "ACTIVE":
                return
            if status == "ERROR":
                raise RuntimeError(f"LB {lb_id} went ERROR")
            time.sleep(step)
        raise RuntimeError(f"LB {lb_id} not ACTIVE within {timeout}s")

    def create_lb(self, name: str, members: list[str], port: int = 80, **pool: Any) -> str:
        """LB + HTTP listener + ROUND_ROBIN pool of ``members`` (on ``bmem``) in one call."""
        body = {
            "name": name,
            "vip_subnet_id": "bvip",
            "listeners": [
                {
                    "name": f"{name}-l",
                    "protocol": "HTTP",
                    "protocol_port": port,
                    "default_pool": {
                        "name": f"{name}-p",
                        "protocol": "HTTP",
                        "lb_algorithm": "ROUND_ROBIN",
                        "members": [
                            {"address": a, "protocol_port": 80, "subnet_id": "bmem"}
                            for a in members
                        ],
                        **pool,
                    },
                }
            ],
        }
        r = self.client.post(LBS, json={"loadbalancer": body})
        r.raise_for_status()
        return str(r.json()["loadbalancer"]["id"])

    def vip(self, lb_id: str) -> str:
        return str(self.client.get(f"{LBS}/{lb_id}").json()["loadbalancer"]["vip_address"])

    def amphora_dirs(self) -> list[Path]:
        return sorted((self.state / "agent" / "amphorae").glob("*"))

    def amphora_netns(self, lb_id: str) -> str:
        amps = self.client.get("/v2/octavia/amphorae", params={"loadbalancer_id": lb_id}).json()
        return str(amps["amphorae"][0]["compute_id"])

    def delete_lb(self, lb_id: str, timeout: float = 60) -> None:
        r = self.client.delete(f"{LBS}/{lb_id}", params={"cascade": "true"})
        if r.status_code not in (204, 404):
            r.raise_for_status()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = self.client.get(f"{LBS}/{lb_id}")
            if r.status_code == 404 or r.json()["loadbalancer"]["provisioning_status"] == "DELETED":
                return
            time.sleep(0.02)
        raise RuntimeError(f"LB {lb_id} not deleted within {timeout}s")

    def close(self) -> None:
        """Stop Portus, then remove any amphora its agent still holds (its own state dir)."""
        self.client.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()
        with contextlib.suppress(Exception):
            from portus.agent.agent import Agent

            agent = Agent(self.state / "agent")
            for info in agent.list_amphorae():
                agent.delete_amphora(info.id)
        shutil.rmtree(self.state, ignore_errors=True)


class CpuCgroup:
    """A CPU cgroup shaped like an amphora's (``<parent>/<name>``, CFS quota ``cpus``), for
    the hand-tuned anchor: both proxies then compete with other work on equal terms (same
    hierarchy depth, default weight), and renicing a process does not favour one of them.
    cgroup v1 ``cpu`` or v2; removed by ``close`` once its processes are gone."""

    def __init__(self, parent: str, name: str, cpus: float = 1.0) -> None:
        v2 = Path("/sys/fs/cgroup/cgroup.controllers").exists()
        root = Path("/sys/fs/cgroup") if v2 else Path("/sys/fs/cgroup/cpu")
        self.parent = root / parent
        self.dir = self.parent / name
        self.dir.mkdir(parents=True, exist_ok=True)
        quota = str(int(cpus * 100_000))
        if v2:
            with contextlib.suppress(OSError):
                (self.parent / "cgroup.subtree_control").write_text("+cpu")
            (self.dir / "cpu.max").write_text(f"{quota} 100000")
        else:
            (self.dir / "cpu.cfs_period_us").write_text("100000")
            (self.dir / "cpu.cfs_quota_us").write_text(quota)

    def add(self, pids: list[int]) -> None:
        for pid in pids:
            with contextlib.suppress(OSError):
                (self.dir / "cgroup.procs").write_text(str(pid))

    def close(self) -> None:
        for d in (self.dir, self.parent):
            for _ in range(100):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)


def pin(pids: list[int], cpu: str) -> None:
    """Pin every thread of ``pids`` to ``cpu``."""
    for pid in pids:
        sh("taskset", "-a", "-p", "-c", cpu, str(pid), check=False)


def netns_pids(ns: str) -> list[int]:
    return [int(p) for p in sh("ip", "netns", "pids", ns, check=False).split() if p.isdigit()]


def pin_amphora(portus: PortusProc, lb_id: str) -> tuple[str, str]:
    """Pin an LB's amphora processes to the proxy CPU at nice -10, as the anchor is; return the
    amphora's namespace and the haproxy.cfg it runs (kept with the results)."""
    amp_ns = portus.amphora_netns(lb_id)
    amp_pids = netns_pids(amp_ns)
    pin(amp_pids, PROXY_CPU)
    for pid in amp_pids:
        sh("renice", "-n", "-10", "-p", str(pid), check=False)
    amp_dir = next(d for d in portus.amphora_dirs() if amp_ns.endswith(d.name))
    return amp_ns, (amp_dir / "haproxy.cfg").read_text()


# -- CPU accounting and noise ------------------------------------------------------------------


def _ns_inode(pid: str) -> str:
    try:
        return os.readlink(f"/proc/{pid}/ns/net")
    except OSError:
        return ""


def _proc_ticks(pid: str) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])


def netns_inodes(names: list[str]) -> set[str]:
    out = set()
    for name in names:
        with contextlib.suppress(OSError):
            out.add(f"net:[{os.stat(f'/run/netns/{name}').st_ino}]")
    return out


@dataclass
class CpuSample:
    """CPU ticks per CPU (busy, total) and per live process (group, ticks)."""

    cpus: list[tuple[int, int]]
    procs: dict[str, tuple[str, int]]
    wall: float


def _cpu_times() -> list[tuple[int, int]]:
    out = []
    for line in Path("/proc/stat").read_text().splitlines():
        if re.match(r"cpu\d+ ", line):
            v = [int(x) for x in line.split()[1:]]
            idle = v[3] + v[4]
            out.append((sum(v[:8]) - idle, sum(v[:8])))
    return out


class CpuMeter:
    """Groups processes as ours (by namespace, plus our own PIDs) or other work.

    A process's CPU counts from the first sample that saw it (or from 0 if it started in
    between) to the last; processes that exit in between are not seen, so a short-lived
    client's CPU is read from the per-CPU busy figures instead.
    """

    def __init__(self, groups: dict[str, list[str]], own_pids: set[int]) -> None:
        self.groups = groups
        self.own = {str(p) for p in own_pids | {os.getpid()}}

    def sample(self) -> CpuSample:
        inode_group: dict[str, str] = {}
        for group, names in self.groups.items():
            for inode in netns_inodes(names):
                inode_group[inode] = group
        procs: dict[str, tuple[str, int]] = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            if entry.name in self.own:
                group = "portus"
            else:
                group = inode_group.get(_ns_inode(entry.name), "other")
            procs[entry.name] = (group, _proc_ticks(entry.name))
        return CpuSample(_cpu_times(), procs, time.monotonic())

    @staticmethod
    def diff(a: CpuSample, b: CpuSample) -> dict[str, float]:
        """% of one CPU per group, and busy % per CPU, between two samples."""
        hz = os.sysconf("SC_CLK_TCK")
        secs = max(b.wall - a.wall, 1e-3)
        ticks: dict[str, int] = {"other": 0}
        for pid, (group, now) in b.procs.items():
            before = a.procs.get(pid, (group, 0))[1]
            ticks[group] = ticks.get(group, 0) + max(0, now - before)
        out = {f"{g}_cpu_pct": round(100 * t / hz / secs, 1) for g, t in ticks.items()}
        for i, ((busy0, tot0), (busy1, tot1)) in enumerate(zip(a.cpus, b.cpus, strict=False)):
            out[f"cpu{i}_busy_pct"] = round(100 * (busy1 - busy0) / max(tot1 - tot0, 1), 1)
        return out

    def wait_quiet(
        self, limit_pct: float = 15.0, budget: float = 5.0, window: float = 0.5
    ) -> float:
        """Wait (at most ``budget`` s) until other work uses < ``limit_pct`` of a CPU."""
        deadline = time.monotonic() + budget
        other = 100.0
        while time.monotonic() < deadline:
            a = self.sample()
            time.sleep(window)
            other = self.diff(a, self.sample()).get("other_cpu_pct", 0.0)
            if other < limit_pct:
                break
        return other


# -- load tools --------------------------------------------------------------------------------


def run_ab(url: str, seconds: int, conc: int = 16) -> dict[str, float]:
    """``ab -c conc`` without keep-alive (one connection per request), from the client."""
    out = sh(*in_ns(CLIENT_NS, CLIENT_CPU, "ab", "-q", "-c", str(conc), "-t", str(seconds),
                    "-n", "10000000", "-s", "5", url), check=False)  # fmt: skip

    def num(pattern: str) -> float:
        m = re.search(pattern, out)
        return float(m.group(1)) if m else 0.0

    return {
        "rps": num(r"Requests per second:\s+([\d.]+)"),
        "requests": num(r"Complete requests:\s+(\d+)"),
        "errors": num(r"Failed requests:\s+(\d+)") + num(r"Non-2xx responses:\s+(\d+)"),
        "p50_ms": num(r"\s50%\s+(\d+)"),
        "p99_ms": num(r"\s99%\s+(\d+)"),
    }


def _wrk_ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    if not m:
        return 0.0
    return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]


def parse_wrk(out: str) -> dict[str, float]:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    errors = 0.0
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if sock:
        errors += sum(float(x) for x in sock.groups())
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        errors += float(non2xx.group(1))
    lat = {m.group(1): _wrk_ms(m.group(2)) for m in re.finditer(r"\s(50|99)%\s+(\S+)", out)}
    return {
        "rps": float(rps.group(1)) if rps else 0.0,
        "requests": float(total.group(1)) if total else 0.0,
        "errors": errors,
        "p50_ms": lat.get("50", 0.0),
        "p99_ms": lat.get("99", 0.0),
    }


def run_wrk(url: str, seconds: int, conc: int = 16) -> dict[str, float]:
    """``wrk -t1 -c conc`` keep-alive from the client."""
    out = sh(*in_ns(CLIENT_NS, CLIENT_CPU, "wrk", "-t1", f"-c{conc}", f"-d{seconds}s",
                    "--latency", url), check=False)  # fmt: skip
    return parse_wrk(out)
