"""Network namespaces, veth legs and bridges for amphorae, via iproute2.

Names follow the project rule: every namespace, link and bridge starts with ``portus``/``pa``
so that cleanup never touches anything Portus did not create.
"""

from __future__ import annotations

import ctypes
import ipaddress
import os
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from portus.agent.cmd import run
from portus.agent.errors import AgentError
from portus.agent.model import NetworkAttachment

NETNS_DIR = Path("/run/netns")
CLONE_NEWNET = 0x40000000
IFNAMSIZ = 15
_HEX = re.compile(r"[0-9a-f]")

T = TypeVar("T")


def short_id(amphora_id: str) -> str:
    """First 8 hex digits of an amphora id (dashes ignored), the basis of every host name."""
    digits = "".join(_HEX.findall(amphora_id.lower()))
    if len(digits) < 8:
        raise AgentError(f"amphora id {amphora_id!r} needs at least 8 hex digits")
    return digits[:8]


def netns_name(amphora_id: str) -> str:
    return f"portus-amp-{short_id(amphora_id)}"


def host_veth_name(amphora_id: str, index: int) -> str:
    """Host end of leg ``index``: ``pa<8hex><n>``, always within IFNAMSIZ."""
    name = f"pa{short_id(amphora_id)}{index}"
    if len(name) > IFNAMSIZ:
        raise AgentError(f"too many legs for one amphora ({index})")
    return name


def netns_exists(name: str) -> bool:
    return (NETNS_DIR / name).exists()


def link_exists(name: str, netns: str | None = None) -> bool:
    prefix = ["ip", "-n", netns] if netns else ["ip"]
    return run([*prefix, "link", "show", "dev", name], check=False).returncode == 0


def create_netns(name: str) -> None:
    """Create the namespace with loopback up (HAProxy health and local probes need lo)."""
    run(["ip", "netns", "add", name])
    run(["ip", "-n", name, "link", "set", "lo", "up"])


def enable_forwarding(name: str) -> None:
    """Let the namespace forward packets (IPv4 and IPv6).

    UDP/SCTP listeners DNAT to members through the amphora, which needs forwarding inside it;
    a new namespace starts with it off. Only this namespace's own setting changes, and the
    rendered nftables ruleset forwards nothing but DNATed flows.
    """
    set_sysctls(name, {"net.ipv4.ip_forward": "1", "net.ipv6.conf.all.forwarding": "1"})


# Per-amphora kernel settings (dataplane.md §6): deep accept/SYN queues for bursts of new
# connections, a wide source-port range and TIME_WAIT reuse for the proxy's member-side
# connections. ``ip_nonlocal_bind`` is deliberately not here: the agent turns it on only for
# ACTIVE_STANDBY amphorae (their BACKUP binds a VIP it does not hold), because elsewhere it
# would turn a bind to a wrong address into silent success instead of a rolled-back apply.
AMPHORA_SYSCTLS: dict[str, str] = {
    "net.core.somaxconn": "65535",
    "net.ipv4.tcp_max_syn_backlog": "65535",
    "net.ipv4.ip_local_port_range": "1024 65000",
    "net.ipv4.tcp_tw_reuse": "1",
}


def set_sysctls(name: str, values: dict[str, str]) -> None:
    """Write ``values`` (dotted sysctl keys) inside namespace ``name``.

    ``/proc/sys/net`` shows the settings of the reading thread's namespace, so a thread that
    joined the amphora writes them directly: no ``ip netns exec sysctl`` process per key.
    """

    def write() -> None:
        for key, value in values.items():
            path = Path("/proc/sys") / key.replace(".", "/")
            try:
                path.write_text(value + "\n")
            except OSError as exc:
                raise AgentError(f"sysctl {key}={value} in {name}: {exc}") from exc

    call_in_netns(name, write)


def tune_amphora(name: str) -> None:
    """Apply :data:`AMPHORA_SYSCTLS` to an amphora's namespace."""
    set_sysctls(name, AMPHORA_SYSCTLS)


def quickack_route_argv(
    netns: str, dev: str, iface: ipaddress.IPv4Interface | ipaddress.IPv6Interface
) -> list[str]:
    """The ``ip route replace`` that turns the leg's connected route into a quickack one.

    Without quickack the proxy delays its ACKs to members, which stalls large responses
    (100 KiB: 4x fewer req/s, dataplane.md §3.2); on client-facing routes it costs ~20 % on
    tiny responses, hence only member legs ask for it. Same prefix, table, protocol and
    metric as the kernel's route, so it replaces that route instead of adding a second one.
    """
    argv = ["ip", f"-{iface.version}", "-n", netns, "route", "replace", str(iface.network)]
    argv += ["dev", dev, "proto", "kernel", "scope", "link"]
    if iface.version == 4:
        argv += ["src", str(iface.ip)]
    else:
        argv += ["metric", "256"]
    return [*argv, "quickack", "1"]


def delete_netns(name: str) -> None:
    if netns_exists(name):
        run(["ip", "netns", "delete", name])


def netns_pids(name: str) -> list[int]:
    """PIDs of processes living in namespace ``name`` (all of them are ours to stop)."""
    if not netns_exists(name):
        return []
    out = run(["ip", "netns", "pids", name], check=False).stdout
    return [int(tok) for tok in out.split() if tok.isdigit()]


def leg_mac(address: str) -> str:
    """A locally administered MAC derived from the leg's address.

    An LB deleted and recreated gets the same VIP from IPAM; with a random MAC, clients that
    still hold the old ARP/ND entry would send to a MAC that is gone until their entry
    expires (tens of seconds). Same address, same MAC: the reused VIP answers at once.
    """
    tail = ipaddress.ip_address(address).packed[-4:]
    return "02:50:" + ":".join(f"{b:02x}" for b in tail)


def add_leg(netns: str, host_name: str, inner_name: str, leg: NetworkAttachment) -> None:
    """Create a veth pair, enslave the host end to the bridge, address the inner end.

    Two ``ip -batch`` runs (host side, then inside the namespace) instead of one process per
    step: creating an amphora is on the path of every LB create.
    """
    if not link_exists(leg.bridge):
        raise AgentError(f"bridge {leg.bridge} does not exist on this host")
    host = [
        f"link add {host_name} type veth peer name {inner_name} "
        f"address {leg_mac(leg.address)} netns {netns}"
    ]
    inner: list[str] = []
    if leg.mtu:
        host.append(f"link set {host_name} mtu {leg.mtu}")
        inner.append(f"link set {inner_name} mtu {leg.mtu}")
    host.append(f"link set {host_name} master {leg.bridge} up")
    iface = ipaddress.ip_interface(f"{leg.address}/{leg.prefixlen}")
    for address in (str(iface), *leg.extra_addresses):
        # nodad: the address is ours by IPAM; waiting for DAD would delay IPv6 binds by seconds.
        nodad = " nodad" if ipaddress.ip_interface(address).version == 6 else ""
        inner.append(f"addr add {address} dev {inner_name}{nodad}")
    inner.append(f"link set {inner_name} up")
    if leg.quickack:
        inner.append(" ".join(quickack_route_argv(netns, inner_name, iface)[4:]))
    if leg.gateway:
        inner.append(f"route replace default via {leg.gateway}")
    run(["ip", "-batch", "-"], input_text="\n".join(host) + "\n")
    run(["ip", "-n", netns, "-batch", "-"], input_text="\n".join(inner) + "\n")


def delete_link(name: str) -> None:
    if link_exists(name):
        run(["ip", "link", "delete", name], check=False)


def ensure_bridge(name: str, gateway_cidr: str | None = None) -> None:
    """Create (if missing) and bring up a host bridge carrying the gateway address.

    The gateway address on the host is what lets the host (and the agent's probes) reach
    VIPs on the bridge. Idempotent: repeated calls change nothing.
    """
    if not name.startswith("portus") or len(name) > IFNAMSIZ:
        raise AgentError(f"bridge name {name!r} must start with 'portus' and fit 15 chars")
    if not link_exists(name):
        run(["ip", "link", "add", name, "type", "bridge"], check=False)
        if not link_exists(name):
            raise AgentError(f"could not create bridge {name}")
    run(["ip", "link", "set", name, "up"])
    if gateway_cidr:
        iface = ipaddress.ip_interface(gateway_cidr)
        extra = ["nodad"] if iface.version == 6 else []
        run(["ip", "addr", "replace", str(iface), "dev", name, *extra])


def delete_bridge(name: str) -> None:
    if not name.startswith("portus"):
        raise AgentError(f"refusing to delete non-portus bridge {name!r}")
    delete_link(name)


def enable_ip_forward() -> bool:
    """Turn on IPv4 forwarding (needed only when amphorae route via the host, e.g. an uplink).

    Returns True when this call changed it, so callers can log that they did.
    """
    path = Path("/proc/sys/net/ipv4/ip_forward")
    if path.read_text().strip() == "1":
        return False
    path.write_text("1\n")
    return True


def call_in_netns(netns: str, fn: Callable[[], T], timeout: float = 10.0) -> T:
    """Run ``fn`` in a fresh thread that has joined ``netns``.

    The network namespace is a per-thread attribute, so sockets ``fn`` opens live in the
    amphora while the rest of the agent stays on the host; no fork/exec is needed.
    """
    results: list[T] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(NETNS_DIR / netns, os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise AgentError(f"setns {netns}: {os.strerror(err)}")
            finally:
                os.close(fd)
            results.append(fn())
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target, name=f"netns-{netns}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise AgentError(f"operation in {netns} timed out after {timeout}s")
    if errors:
        raise errors[0]
    return results[0]
