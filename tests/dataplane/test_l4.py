"""TCP-family and UDP listeners through a real amphora: plain TCP, TLS passthrough, the PROXY
protocol towards members, and UDP balanced by nftables."""

from __future__ import annotations

import socket
import ssl
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.health.health_support import watch

from dataplane_support import (
    Lab,
    Portus,
    StreamServer,
    UdpServer,
    create_lb,
    member,
    needs_root,
    self_signed_tls,
    wait_until,
)

pytestmark = [needs_root, pytest.mark.dataplane]

TCP, TLS, PROXY, PROXYV2, UDP = 9000, 443, 9001, 9002, 5353


class Setup:
    def __init__(self, lb: dict[str, Any], servers: dict[str, list[Any]], ca: Path) -> None:
        self.vip = str(lb["vip_address"])
        self.servers = servers
        self.ca = ca


def _listener(protocol: str, port: int, pool_protocol: str, members: list[Any]) -> dict[str, Any]:
    return {
        "protocol": protocol,
        "protocol_port": port,
        "default_pool": {
            "protocol": pool_protocol,
            "lb_algorithm": "ROUND_ROBIN",
            "members": [member(m) for m in members],
        },
    }


@pytest.fixture(scope="module")
def setup(
    amp_portus_module: Portus, module_lab: Lab, tmp_path_factory: pytest.TempPathFactory
) -> Setup:
    tls, cert = self_signed_tls(tmp_path_factory.mktemp("tls"), "member.portus.test")
    lab = module_lab
    servers: dict[str, list[Any]] = {
        "tcp": [lab.tcp("tcp-a"), lab.tcp("tcp-b")],
        "tls": [lab.tcp("tls-a", tls=tls)],
        "proxy": [lab.tcp("proxy")],
        "proxyv2": [lab.tcp("proxyv2")],
        "udp": [lab.udp("udp-a"), lab.udp("udp-b")],
    }
    listeners = [
        _listener("TCP", TCP, "TCP", servers["tcp"]),
        _listener("HTTPS", TLS, "HTTPS", servers["tls"]),
        _listener("TCP", PROXY, "PROXY", servers["proxy"]),
        _listener("TCP", PROXYV2, "PROXYV2", servers["proxyv2"]),
        _listener("UDP", UDP, "UDP", servers["udp"]),
    ]
    lb = create_lb(amp_portus_module, name="l4", listeners=listeners)
    return Setup(lb, servers, cert)


def tcp_ask(vip: str, port: int, payload: bytes = b"hello\n") -> str:
    with socket.create_connection((vip, port), timeout=5) as s:
        s.sendall(payload)
        return s.recv(1024).decode()


def test_tcp_listener_balances_connections(setup: Setup) -> None:
    seen = Counter(tcp_ask(setup.vip, TCP) for _ in range(10))
    assert seen == Counter({"tcp-a": 5, "tcp-b": 5})


def test_https_passthrough_carries_the_members_tls_session(setup: Setup) -> None:
    ctx = ssl.create_default_context(cafile=str(setup.ca))
    ctx.check_hostname = False  # the member's certificate names the member, not the VIP
    with (
        socket.create_connection((setup.vip, TLS), timeout=5) as raw,
        ctx.wrap_socket(raw) as s,
    ):
        cert: Any = s.getpeercert()
        subject = dict(x[0] for x in cert["subject"])
        s.sendall(b"hello over tls\n")
        answer = s.recv(1024).decode()
    assert subject["commonName"] == "member.portus.test"
    assert answer == "tls-a"
    assert setup.servers["tls"][0].received[-1] == b"hello over tls\n"


def test_proxy_pool_sends_a_proxy_v1_header_with_the_client_address(
    setup: Setup, amp_portus_module: Portus
) -> None:
    server: StreamServer = setup.servers["proxy"][0]
    assert tcp_ask(setup.vip, PROXY, b"payload") == "proxy"
    first = server.received[-1]
    gateway = amp_portus_module.settings.subnets[0].gateway
    assert first.startswith(f"PROXY TCP4 {gateway} {setup.vip} ".encode())
    assert first.endswith(f" {PROXY}\r\npayload".encode()) or first.endswith(
        f" {PROXY}\r\n".encode()
    )


def test_proxyv2_pool_sends_the_binary_proxy_v2_header(setup: Setup) -> None:
    server: StreamServer = setup.servers["proxyv2"][0]
    assert tcp_ask(setup.vip, PROXYV2, b"payload") == "proxyv2"
    assert server.received[-1].startswith(b"\r\n\r\n\x00\r\nQUIT\n\x21\x11")


def test_udp_listener_balances_datagrams_across_members(setup: Setup) -> None:
    seen: Counter[str] = Counter()
    for _ in range(10):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:  # a new flow each time
            s.settimeout(3)
            s.sendto(b"ping", (setup.vip, UDP))
            seen[s.recv(256).decode()] += 1
    assert seen == Counter({"udp-a": 5, "udp-b": 5})
    udp: list[UdpServer] = setup.servers["udp"]
    assert [u.count for u in udp] == [5, 5]


def test_udp_connect_monitor_takes_a_closed_member_out(
    amp_portus_module: Portus, module_lab: Lab
) -> None:
    """The dead member's map slots are re-pointed (no datagram lost to a hole), the status
    tree shows it ERROR and the pool DEGRADED, and it is back in service once it listens."""
    p = amp_portus_module
    live, dead = module_lab.udp("live"), module_lab.udp("dead")
    dead_host = module_lab._hosts[-1]  # the namespace the dead member lives in
    listener = _listener("UDP", UDP, "UDP", [live, dead])
    listener["default_pool"]["healthmonitor"] = {
        "type": "UDP-CONNECT",
        "delay": 3,  # the API's minimum for UDP-CONNECT
        "timeout": 1,
        "max_retries": 1,
        "max_retries_down": 1,
    }

    def replies() -> Counter[str]:
        seen: Counter[str] = Counter()
        for _ in range(6):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(0.5)
                s.sendto(b"ping", (lb["vip_address"], UDP))
                try:
                    seen[s.recv(256).decode()] += 1
                except OSError:
                    seen["no answer"] += 1
        return seen

    def statuses() -> dict[str, str]:
        r = p.client.get(f"/v2/lbaas/loadbalancers/{lb['id']}/status")
        pool = r.json()["statuses"]["loadbalancer"]["listeners"][0]["pools"][0]
        out = {"pool": pool["operating_status"]}
        out |= {str(m["protocol_port"]): m["operating_status"] for m in pool["members"]}
        return out

    with watch(p):
        lb = create_lb(p, name="udp-hm", listeners=[listener])
        dead.stop()  # its port now answers ICMP port unreachable
        assert wait_until(lambda: replies() == Counter({"live": 6}), timeout=8)
        sick = {"pool": "DEGRADED", str(live.port): "ONLINE", str(dead.port): "ERROR"}
        assert wait_until(lambda: statuses() == sick, timeout=8)

        def rebind() -> socket.socket:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind((dead.address, dead.port))
            return sock

        back = dead_host.run(rebind)  # listens (silently): a UDP-CONNECT probe sees it up
        try:
            healthy = {"pool": "ONLINE", str(live.port): "ONLINE", str(dead.port): "ONLINE"}
            assert wait_until(lambda: statuses() == healthy, timeout=8)
        finally:
            back.close()


def test_udp_member_without_a_vip_of_its_ip_version_is_refused(
    setup: Setup, amp_portus_module: Portus
) -> None:
    """nftables DNAT cannot cross IP versions: an IPv6 member of a UDP pool behind an IPv4 VIP
    would never get a datagram, so it is refused (501, as Octavia) and nothing is added."""
    c = amp_portus_module.client
    pools = c.get("/v2/lbaas/pools", params={"protocol": "UDP"}).json()["pools"]
    udp_pool = next(p for p in pools if p["listeners"])
    path = f"/v2/lbaas/pools/{udp_pool['id']}/members"
    before = c.get(path).json()["members"]
    r = c.post(path, json={"member": {"address": "fd00:5::10", "protocol_port": 5353}})
    assert r.status_code == 501, r.text
    assert "IPv6" in r.json()["faultstring"]
    keep = [{"address": m["address"], "protocol_port": m["protocol_port"]} for m in before]
    r = c.put(path, json={"members": [*keep, {"address": "fd00:5::10", "protocol_port": 53}]})
    assert r.status_code == 501, r.text
    assert c.get(path).json()["members"] == before
