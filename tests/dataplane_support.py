"""Data-plane fixtures: a Portus with the amphora provider on a bridge and subnet of the
test's own, and tiny HTTP backends on that bridge. Registered in conftest.py."""

from __future__ import annotations

import http.server
import os
import random
import shutil
import socketserver
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from portus.config import SubnetConfig

from conftest import Portus, make_settings

needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("haproxy") is None,
    reason="needs root, network namespaces and haproxy",
)


def _link_exists(name: str) -> bool:
    return subprocess.run(["ip", "link", "show", name], capture_output=True).returncode == 0


@pytest.fixture
def subnet() -> Iterator[SubnetConfig]:
    """A /24 of 10.254.0.0/16 on a fresh bridge; the bridge is removed afterwards."""
    n = random.randint(10, 250)
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


@pytest.fixture
def amp_portus(subnet: SubnetConfig) -> Iterator[Portus]:
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


class Backend:
    """A tiny HTTP server on the host's bridge address; answers with its own name."""

    def __init__(self, address: str, name: str) -> None:
        self.name = name
        self.requests: list[dict[str, str]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                outer.requests.append(dict(self.headers.items()))
                body = outer.name.encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                return

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server((address, 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


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
