"""Data-plane fixtures: a Portus with the amphora provider on a bridge and subnet of the
test's own, and small servers and clients around it. Registered in conftest.py.

* ``subnet`` / ``module_subnet``: a fresh bridge ``portus-t<n>`` with ``10.254.<n>.0/24``
  whose gateway ``.1`` is on the host.
* ``amp_portus`` / ``amp_portus_module``: a real Portus (API + controller) whose amphora
  provider puts VIPs on that bridge.
* ``backends``: HTTP servers on the host's bridge address answering their own name.
* ``lab`` / ``module_lab``: namespaces of the test's own on the bridge (``portus-be-<n>-<k>``
  at ``.100+k`` for members, ``portus-cl-<n>-<k>`` at ``.200+k`` for clients) and servers
  inside them (HTTP, TCP, TLS, UDP), all torn down afterwards.
"""

from __future__ import annotations

import contextlib
import http.server
import os
import random
import shutil
import socket
import socketserver
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from portus.agent.netns import call_in_netns
from portus.config import SubnetConfig
from tests.support.portus_app import Portus, make_settings

T = TypeVar("T")

__all__ = ["Portus"]

needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("haproxy") is None,
    reason="needs root, network namespaces and haproxy",
)

_used_subnets: set[int] = set()


def _link_exists(name: str) -> bool:
    return subprocess.run(["ip", "link", "show", name], capture_output=True).returncode == 0


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@contextlib.contextmanager
def make_subnet() -> Iterator[SubnetConfig]:
    """A /24 of 10.254.0.0/16 on a bridge nobody else uses; the bridge is removed afterwards."""
    free = [n for n in range(10, 251) if n not in _used_subnets]
    random.shuffle(free)
    n = next(n for n in free if not _link_exists(f"portus-t{n}"))
    _used_subnets.add(n)
    bridge = f"portus-t{n}"
    cfg = SubnetConfig(
        id="public",
        name="public",
        network_id="public",
        network_name="public",
        cidr=f"10.254.{n}.0/24",
        gateway=f"10.254.{n}.1",
        bridge=bridge,
    )
    try:
        yield cfg
    finally:
        if _link_exists(bridge):
            subprocess.run(["ip", "link", "del", bridge], check=False)


@contextlib.contextmanager
def run_portus(subnet: SubnetConfig) -> Iterator[Portus]:
    """A running Portus with the amphora provider on ``subnet``; every amphora removed after."""
    # A short state dir: HAProxy's UNIX socket paths must stay under ~100 characters.
    state = Path(tempfile.mkdtemp(prefix="portus-"))
    settings = make_settings(state, env_db=False).with_(provider="amphora")
    settings = settings.with_(subnets=(subnet,))
    p = Portus(settings)
    try:
        p.start()
        yield p
    finally:
        p.stop()
        provider: Any = p.controller.providers.get("amphora")
        if provider is not None:
            provider.shutdown_all()
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture
def subnet() -> Iterator[SubnetConfig]:
    with make_subnet() as cfg:
        yield cfg


@pytest.fixture
def amp_portus(subnet: SubnetConfig) -> Iterator[Portus]:
    with run_portus(subnet) as p:
        yield p


@pytest.fixture(scope="module")
def module_subnet() -> Iterator[SubnetConfig]:
    with make_subnet() as cfg:
        yield cfg


@pytest.fixture(scope="module")
def amp_portus_module(module_subnet: SubnetConfig) -> Iterator[Portus]:
    """One amphora-provider Portus shared by a test module (LB creation is the slow part)."""
    with run_portus(module_subnet) as p:
        yield p


# -- servers ---------------------------------------------------------------------------------


class _ThreadingHTTPServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class Backend:
    """A tiny HTTP server answering with its own name.

    It records each request's headers, answers ``status`` (set it to 500 to make the member
    "sick"), sets the cookie ``JSESSIONID=<name>`` (for APP_COOKIE persistence) and holds
    ``/slow`` requests until ``release`` is set (at most 5 s). Built inside ``netns`` when one
    is given: the listening socket, and so every connection it accepts, lives there.
    """

    def __init__(self, address: str, name: str, netns: str | None = None) -> None:
        self.name = name
        self.requests: list[dict[str, str]] = []
        self.status = 200
        self.in_flight = 0
        self.release = threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                outer.requests.append(dict(self.headers.items()))
                if self.path.startswith("/slow"):
                    outer.in_flight += 1
                    try:
                        outer.release.wait(5)
                    finally:
                        outer.in_flight -= 1
                body = outer.name.encode()
                self.send_response(outer.status)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Set-Cookie", f"JSESSIONID={outer.name}")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                return

            def handle(self) -> None:
                # Health checks and TCP probes hang up early; that is not an error here.
                with contextlib.suppress(ConnectionError, TimeoutError):
                    super().handle()

        def build() -> _ThreadingHTTPServer:
            return _ThreadingHTTPServer((address, 0), Handler)

        self.server = call_in_netns(netns, build) if netns else build()
        self.address = address
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def stop(self) -> None:
        """Stop listening: new connections are refused from now on."""
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


class StreamServer:
    """A TCP (or, with ``tls``, TLS) server: reads the first bytes a connection sends, keeps
    them in ``received`` (so PROXY headers can be inspected), answers its name and closes."""

    def __init__(
        self,
        address: str,
        name: str,
        netns: str | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.name = name
        self.received: list[bytes] = []
        self.tls = tls

        def build() -> socket.socket:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((address, 0))
            sock.listen(64)
            return sock

        self.sock = call_in_netns(netns, build) if netns else build()
        self.sock.settimeout(0.05)
        self.address = address
        self.port = int(self.sock.getsockname()[1])
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError), conn:
            conn.settimeout(2)
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            data = conn.recv(4096)
            self.received.append(data)
            conn.sendall(self.name.encode())

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(timeout=2)
        self.sock.close()


class UdpServer:
    """A UDP server answering every datagram with its name (and counting them)."""

    def __init__(self, address: str, name: str, netns: str | None = None) -> None:
        self.name = name
        self.count = 0

        def build() -> socket.socket:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind((address, 0))
            return sock

        self.sock = call_in_netns(netns, build) if netns else build()
        self.sock.settimeout(0.05)
        self.address = address
        self.port = int(self.sock.getsockname()[1])
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                _data, peer = self.sock.recvfrom(2048)
            except TimeoutError:
                continue
            except OSError:
                return
            self.count += 1
            with contextlib.suppress(OSError):
                self.sock.sendto(self.name.encode(), peer)

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(timeout=2)
        self.sock.close()


# -- namespaces on the test bridge -----------------------------------------------------------


class NetnsHost:
    """A namespace of the test's own with one veth leg on the test bridge and one address.

    ``run(fn)`` calls ``fn`` in a thread inside the namespace, so sockets it opens (clients,
    listening servers) have this host's address.
    """

    def __init__(self, subnet: SubnetConfig, role: str, index: int) -> None:
        n = subnet.cidr.split(".")[2]
        prefix = subnet.cidr.rsplit(".", 1)[0]
        base = 100 if role == "be" else 200
        self.name = f"portus-{role}-{n}-{index}"
        self.veth = f"portus{role[0]}{n}x{index}"  # host end; at most 15 characters
        self.address = f"{prefix}.{base + index}"
        self.gateway = subnet.gateway or ""
        _ip("netns", "add", self.name)
        try:
            _ip("-n", self.name, "link", "set", "lo", "up")
            _ip(
                "link", "add", self.veth, "type", "veth", "peer", "name", "eth0", "netns", self.name
            )
            _ip("link", "set", self.veth, "master", subnet.bridge, "up")
            _ip("-n", self.name, "addr", "add", f"{self.address}/24", "dev", "eth0")
            _ip("-n", self.name, "link", "set", "eth0", "up")
        except subprocess.CalledProcessError:
            self.close()
            raise

    def run(self, fn: Callable[[], T], timeout: float = 20.0) -> T:
        return call_in_netns(self.name, fn, timeout=timeout)

    def close(self) -> None:
        if _link_exists(self.veth):
            subprocess.run(["ip", "link", "del", self.veth], check=False, capture_output=True)
        subprocess.run(["ip", "netns", "del", self.name], check=False, capture_output=True)


class Lab:
    """Namespaces and servers a test creates around its LB; ``close`` removes all of them."""

    def __init__(self, subnet: SubnetConfig) -> None:
        self.subnet = subnet
        self._hosts: list[NetnsHost] = []
        self._servers: list[Backend | StreamServer | UdpServer] = []
        self._next = {"be": 0, "cl": 0}

    def _host(self, role: str) -> NetnsHost:
        self._next[role] += 1
        host = NetnsHost(self.subnet, role, self._next[role])
        self._hosts.append(host)
        return host

    def client(self) -> NetnsHost:
        """A client namespace at ``.200+k`` (a source address of the test's own)."""
        return self._host("cl")

    def http(self, name: str) -> Backend:
        host = self._host("be")
        server = Backend(host.address, name, host.name)
        self._servers.append(server)
        return server

    def tcp(self, name: str, tls: ssl.SSLContext | None = None) -> StreamServer:
        host = self._host("be")
        server = StreamServer(host.address, name, host.name, tls)
        self._servers.append(server)
        return server

    def udp(self, name: str) -> UdpServer:
        host = self._host("be")
        server = UdpServer(host.address, name, host.name)
        self._servers.append(server)
        return server

    def close(self) -> None:
        for server in self._servers:
            with contextlib.suppress(OSError):
                server.stop()
        for host in self._hosts:
            host.close()


@pytest.fixture
def lab(subnet: SubnetConfig) -> Iterator[Lab]:
    lab = Lab(subnet)
    try:
        yield lab
    finally:
        lab.close()


@pytest.fixture(scope="module")
def module_lab(module_subnet: SubnetConfig) -> Iterator[Lab]:
    lab = Lab(module_subnet)
    try:
        yield lab
    finally:
        lab.close()


@pytest.fixture
def backends(subnet: SubnetConfig) -> Iterator[Callable[[str], Backend]]:
    started: list[Backend] = []

    def start(name: str) -> Backend:
        b = Backend(subnet.gateway or "127.0.0.1", name)
        started.append(b)
        return b

    try:
        yield start
    finally:
        for b in started:
            b.stop()


@pytest.fixture(scope="module")
def module_backends(module_subnet: SubnetConfig) -> Iterator[Callable[[str], Backend]]:
    """HTTP servers on the host's bridge address, shared by a module."""
    started: list[Backend] = []

    def start(name: str) -> Backend:
        b = Backend(module_subnet.gateway or "127.0.0.1", name)
        started.append(b)
        return b

    try:
        yield start
    finally:
        for b in started:
            b.stop()


# -- helpers for tests -----------------------------------------------------------------------


def wait_until(check: Callable[[], bool], timeout: float = 10.0, step: float = 0.1) -> bool:
    """Poll ``check`` until it is true or ``timeout`` passes; returns the last result."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step)
    return check()


def self_signed_tls(tmp: Path, common_name: str) -> tuple[ssl.SSLContext, Path]:
    """A server context with a fresh self-signed certificate, and the certificate's path."""
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-days", "1", "-subj", f"/CN={common_name}",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx, cert


def member(server: Backend | StreamServer | UdpServer, **fields: Any) -> dict[str, Any]:
    """The API body of a member pointing at ``server``."""
    return {"address": server.address, "protocol_port": server.port, **fields}


def create_lb(p: Portus, **fields: Any) -> dict[str, Any]:
    """Create a (fully populated) LB in one call and wait until it is ACTIVE."""
    r = p.client.post(
        "/v2/lbaas/loadbalancers", json={"loadbalancer": {"vip_subnet_id": "public", **fields}}
    )
    assert r.status_code == 201, r.text
    lb_id = r.json()["loadbalancer"]["id"]
    return p.wait_for(f"/v2/lbaas/loadbalancers/{lb_id}", "loadbalancer", timeout=30)


def amphora_of(p: Portus, lb_id: str) -> Any:
    """(agent, amphora id) of a SINGLE LB, to read the agent's view of its amphora."""
    amps = p.client.get("/v2/octavia/amphorae", params={"loadbalancer_id": lb_id}).json()
    provider: Any = p.controller.providers["amphora"]
    return provider.agent, amps["amphorae"][0]["id"]


def haproxy_cfg(p: Portus, lb_id: str) -> str:
    """The haproxy.cfg the amphora runs (what the agent applied)."""
    agent, amp_id = amphora_of(p, lb_id)
    info = next(i for i in agent.list_amphorae() if i.id == amp_id)
    return (Path(info.run_dir) / "haproxy.cfg").read_text()
