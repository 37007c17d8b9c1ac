"""The rendered ruleset keeps connection tracking off for HAProxy's TCP traffic (D15).

Loaded into a throwaway namespace, a TCP connection over ``lo`` must leave the namespace's
conntrack table empty, both for an HTTP-only amphora (no nat chains, no ``ct`` expression) and
for one with a UDP service (conntrack on, TCP exempted by ``notrack``); the UDP flow itself is
still tracked (DNAT needs it).
"""

from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from render_cases import LAYOUT, build

from portus.agent.netns import call_in_netns
from portus.ir.translate import translate
from portus.render import render_nftables

pytestmark = pytest.mark.dataplane


@pytest.fixture
def fresh_netns() -> Iterator[str]:
    if shutil.which("ip") is None or shutil.which("nft") is None:
        pytest.skip("needs iproute2 and nftables")
    name = f"portus-test-{secrets.token_hex(4)}"
    if subprocess.run(["ip", "netns", "add", name], capture_output=True).returncode != 0:
        pytest.skip("cannot create a network namespace")
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=False)


def load(case: str, ns: str, tmp_path: Path) -> None:
    lb, amp = build(case)
    path = tmp_path / "ruleset.nft"
    path.write_text(render_nftables(translate(lb, amp, LAYOUT)))
    subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", str(path)], check=True, timeout=30)


def tracked() -> int:
    """Entries in the calling thread's namespace's conntrack table (0 when it is off)."""
    count = Path("/proc/sys/net/netfilter/nf_conntrack_count")
    return int(count.read_text()) if count.exists() else 0


def tcp_exchange() -> int:
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        t = threading.Thread(target=lambda: srv.accept()[0].close(), daemon=True)
        t.start()
        with socket.create_connection(srv.getsockname(), timeout=5) as c:
            c.sendall(b"x")
        t.join(5)
    return tracked()


def udp_exchange() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"x", ("127.0.0.1", 9))
    return tracked()


def test_http_only_amphora_tracks_nothing(fresh_netns: str, tmp_path: Path) -> None:
    load("http_basic", fresh_netns, tmp_path)
    assert call_in_netns(fresh_netns, tcp_exchange) == 0
    assert call_in_netns(fresh_netns, udp_exchange) == 0


def test_udp_amphora_tracks_udp_but_not_tcp(fresh_netns: str, tmp_path: Path) -> None:
    load("udp_round_robin", fresh_netns, tmp_path)
    assert call_in_netns(fresh_netns, tcp_exchange) == 0
    assert call_in_netns(fresh_netns, udp_exchange) >= 1
