"""Re-encryption passes the client's SNI on; real TLS clients (openssl s_client, httpx over h2);
certificate rotation keeps established connections alive."""

from __future__ import annotations

import base64
import contextlib
import http.client
import http.server
import socket
import socketserver
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.portus_app import Portus

from dataplane_support import needs_root
from tls_certgen import CA

pytestmark = [needs_root]


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class TlsMember:
    """An HTTPS member that answers ``<name> <Host header>``, records the SNI names HAProxy
    sends, and holds ``/slow`` until ``release`` is set (at most 5 s)."""

    def __init__(self, address: str, name: str, bundle: Path) -> None:
        self.sni: list[str | None] = []
        self.release = threading.Event()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(bundle))
        ctx.sni_callback = lambda _sock, server_name, _ctx: self.sni.append(server_name)
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                if self.path.startswith("/slow"):
                    outer.release.wait(5)
                body = f"{name} {self.headers.get('Host')}".encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                return

            def handle(self) -> None:
                with contextlib.suppress(ConnectionError, TimeoutError, ssl.SSLError):
                    super().handle()

        self.server = _Server((address, 0), Handler)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.address, self.port = address, int(self.server.server_address[1])
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def store(p: Portus, data: bytes, name: str) -> str:
    body = {
        "name": name,
        "payload": base64.b64encode(data).decode(),
        "payload_content_type": "application/octet-stream",
        "payload_content_encoding": "base64",
    }
    r = p.client.post("/key-manager/v1/secrets", json=body)
    assert r.status_code == 201, r.text
    return str(r.json()["secret_ref"])


def s_client(vip: str, servername: str, cafile: Path) -> tuple[str, str]:
    """``openssl s_client -servername``: (subject line of the served certificate, output)."""
    request = f"GET / HTTP/1.1\r\nHost: {servername}\r\nConnection: close\r\n\r\n"
    proc = subprocess.run(
        ["openssl", "s_client", "-connect", f"{vip}:443", "-servername", servername,
         "-CAfile", str(cafile), "-verify_return_error", "-ign_eof"],
        input=request.encode(), capture_output=True, timeout=20, check=False,
    )  # fmt: skip
    out = proc.stdout.decode(errors="replace")
    subject = next((line for line in out.splitlines() if line.startswith("subject=")), "")
    return subject, out


class KeepAlive:
    """One TLS connection to the VIP, used for several HTTP/1.1 requests in turn."""

    def __init__(self, vip: str, cafile: Path, servername: str) -> None:
        ctx = ssl.create_default_context(cafile=str(cafile))
        raw = socket.create_connection((vip, 443), timeout=10)
        self.tls = ctx.wrap_socket(raw, server_hostname=servername)
        self.servername = servername

    def send(self, path: str) -> None:
        self.tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {self.servername}\r\n\r\n".encode())

    def read(self) -> tuple[int, bytes, str | None]:
        response = http.client.HTTPResponse(self.tls)
        response.begin()
        return response.status, response.read(), response.getheader("Connection")

    def peer_serial(self) -> int:
        cert: Any = self.tls.getpeercert()
        return int(cert["serialNumber"], 16)

    def close(self) -> None:
        self.tls.close()


@pytest.fixture
def member(amp_portus: Portus, tmp_path: Path) -> Iterator[tuple[TlsMember, CA]]:
    """A member on the test bridge whose certificate (from the test CA) names the two
    virtual hosts the listener serves, but not ``unlisted.example.com``."""
    ca = CA()
    bundle = tmp_path / "member.pem"
    bundle.write_bytes(
        ca.issue("member", dns=("default.example.com", "sni.example.com")).bundle_pem()
    )
    gateway = amp_portus.settings.subnets[0].gateway or "127.0.0.1"
    server = TlsMember(gateway, "member-1", bundle)
    try:
        yield server, ca
    finally:
        server.stop()


def test_reencryption_sni_real_clients_and_rotation_without_drops(
    amp_portus: Portus, member: tuple[TlsMember, CA], tmp_path: Path
) -> None:
    p, (server, ca) = amp_portus, member
    cafile = tmp_path / "ca.pem"
    cafile.write_bytes(ca.pem)
    default = store(p, ca.issue("default.example.com").bundle_pem(), "default")
    sni = store(p, ca.issue("sni.example.com").bundle_pem(), "sni")
    pool = {
        "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "tls_enabled": True,
        "ca_tls_container_ref": store(p, ca.pem, "member-ca"),
        "members": [{"address": server.address, "protocol_port": server.port}],
    }  # fmt: skip
    listener = {
        "protocol": "TERMINATED_HTTPS", "protocol_port": 443,
        "default_tls_container_ref": default, "sni_container_refs": [sni],
        "alpn_protocols": ["h2", "http/1.1"], "default_pool": pool,
    }  # fmt: skip
    body = {"name": "sni", "vip_subnet_id": "public", "listeners": [listener]}
    r = p.client.post("/v2/lbaas/loadbalancers", json={"loadbalancer": body})
    assert r.status_code == 201, r.text
    lb = p.wait_lb(r.json()["loadbalancer"]["id"])
    vip = lb["vip_address"]

    # openssl s_client: the SNI picks the certificate, and the member is asked for that name.
    for name in ("sni.example.com", "default.example.com"):
        subject, out = s_client(vip, name, cafile)
        assert subject.endswith(f"CN = {name}"), out
        assert f"member-1 {name}" in out, out
        assert server.sni[-1] == name
    # The member's certificate is checked against the client's name: not listed, not served.
    subject, out = s_client(vip, "unlisted.example.com", cafile)
    assert subject.endswith("CN = default.example.com") and "503 Service Unavailable" in out, out
    assert server.sni[-1] == "unlisted.example.com"

    # httpx over HTTP/2, negotiated by ALPN.
    ctx = ssl.create_default_context(cafile=str(cafile))
    with httpx.Client(http2=True, verify=ctx, timeout=10) as client:
        reply = client.get(
            f"https://{vip}/", extensions={"sni_hostname": "sni.example.com"},
            headers={"Host": "sni.example.com"},
        )  # fmt: skip
    assert reply.http_version == "HTTP/2" and reply.text == "member-1 sni.example.com"

    # Rotation: one connection idle between requests, one with a request in flight, both
    # made before the new certificate; both are served to the end by the old worker.
    idle = KeepAlive(vip, cafile, "default.example.com")
    busy = KeepAlive(vip, cafile, "default.example.com")
    try:
        idle.send("/")
        assert idle.read()[:2] == (200, b"member-1 default.example.com")
        busy.send("/slow")
        listener_id = p.client.get(
            "/v2/lbaas/listeners", params={"loadbalancer_id": lb["id"]}
        ).json()["listeners"][0]["id"]
        new = ca.issue("default.example.com", days=20)
        r = p.client.put(
            f"/v2/lbaas/listeners/{listener_id}",
            json={"listener": {"default_tls_container_ref": store(p, new.bundle_pem(), "new")}},
        )
        assert r.status_code == 200, r.text
        p.wait_lb(lb["id"])
        fresh = KeepAlive(vip, cafile, "default.example.com")
        assert fresh.peer_serial() == new.cert.serial_number  # new connections: new certificate
        fresh.close()
        server.release.set()
        assert busy.read()[:2] == (200, b"member-1 default.example.com")
        idle.send("/")
        assert idle.read()[:2] == (200, b"member-1 default.example.com")
        assert idle.peer_serial() == busy.peer_serial() != new.cert.serial_number
    finally:
        server.release.set()
        idle.close()
        busy.close()
