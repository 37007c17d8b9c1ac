"""Helpers for the agent tests: test networks, backend HTTP servers, plain HTTP requests.

Backends live in their own namespaces ``portus-be-...`` on the test's bridge.
"""

from __future__ import annotations

import contextlib
import http.client
import random
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from portus.agent import netns
from portus.agent.model import NetworkAttachment


@dataclass(frozen=True)
class Net:
    bridge: str
    prefix: str  # "10.254.N"

    def addr(self, host: int) -> str:
        return f"{self.prefix}.{host}"

    @property
    def gateway(self) -> str:
        return self.addr(1)

    def leg(self, host: int) -> NetworkAttachment:
        return NetworkAttachment(self.bridge, self.addr(host), 24, self.gateway)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (getfqdn), which hangs in a namespace
        # without DNS; bind like a plain TCP server instead.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "backend", int(self.server_address[1])

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # health checks and test clients hang up early; that is not a test failure


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so HAProxy can pool its connections

    def do_GET(self) -> None:
        if self.path.startswith("/slow/"):  # /slow/<seconds>: a request that stays in flight
            time.sleep(float(self.path.removeprefix("/slow/")))
        body = self.server.backend_name.encode()  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@dataclass
class Backend:
    name: str
    address: str
    port: int


@contextlib.contextmanager
def backend_server(net: Net, host: int, name: str, port: int = 8080) -> Iterator[Backend]:
    """An HTTP server answering its ``name``, in its own namespace ``portus-be-...``."""
    ns = f"portus-be-{random.randbytes(3).hex()}"
    host_if = f"pb{random.randbytes(4).hex()}"
    netns.create_netns(ns)
    server: _Server | None = None
    thread: threading.Thread | None = None
    try:
        netns.add_leg(ns, host_if, "eth0", net.leg(host))

        def make() -> _Server:
            srv = _Server((net.addr(host), port), _Handler)
            srv.backend_name = name  # type: ignore[attr-defined]
            return srv

        server = netns.call_in_netns(ns, make)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        thread.start()
        yield Backend(name, net.addr(host), port)
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(5)
        netns.delete_link(host_if)
        netns.delete_netns(ns)


def get(address: str, port: int = 80, path: str = "/", timeout: float = 2.0) -> tuple[int, str]:
    """One request on a new connection, bypassing any proxy settings of the environment."""
    conn = http.client.HTTPConnection(address, port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


def answers(address: str, count: int = 12, port: int = 80) -> list[str]:
    return [get(address, port)[1] for _ in range(count)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
