"""TLS on a real amphora: certificates from the key manager, real TLS clients against the VIP."""

from __future__ import annotations

import base64
import contextlib
import socket
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.portus_app import Portus

from dataplane_support import Backend, Lab, needs_root
from tls_certgen import CA, Issued
from tls_certgen import openstack as cli

pytestmark = [needs_root]


def store(p: Portus, data: bytes, name: str) -> str:
    body = {
        "name": name,
        "payload": base64.b64encode(data).decode(),
        "payload_content_type": "application/octet-stream",
        "payload_content_encoding": "base64",
    }
    r = p.client.post("/key-manager/v1/secrets", json={**body})
    assert r.status_code == 201, r.text
    return str(r.json()["secret_ref"])


def fetch(
    vip: str,
    port: int,
    ca: CA,
    tmp: Path,
    sni: str = "default.example.com",
    client: Issued | None = None,
    alpn: list[str] | None = None,
) -> tuple[str, str, str | None]:
    """(peer certificate CN, response text, negotiated ALPN); raises when refused."""
    cafile = tmp / "ca.pem"
    cafile.write_bytes(ca.pem)
    ctx = ssl.create_default_context(cafile=str(cafile))
    ctx.check_hostname = False
    if client is not None:
        (tmp / "client.pem").write_bytes(client.bundle_pem())
        ctx.load_cert_chain(str(tmp / "client.pem"))
    if alpn:
        ctx.set_alpn_protocols(alpn)
    with (
        socket.create_connection((vip, port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname=sni) as tls,
    ):
        cert: Any = tls.getpeercert()
        cn = dict(x[0] for x in cert["subject"])["commonName"]
        negotiated = tls.selected_alpn_protocol()
        if negotiated == "h2":
            return cn, "", negotiated
        tls.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        chunks = []
        while chunk := tls.recv(65536):
            chunks.append(chunk)
    text = b"".join(chunks).decode(errors="replace")
    if not text:
        raise ConnectionError("empty response")
    return cn, text, negotiated


def refused(call: Callable[[], object]) -> bool:
    try:
        call()
    except (ssl.SSLError, OSError):
        return True
    return False


@pytest.fixture
def lab_ca() -> CA:
    return CA()


@contextlib.contextmanager
def tls_lb(p: Portus, backend: Backend, listener: dict[str, Any]) -> Iterator[dict[str, Any]]:
    body = {
        "name": "tls",
        "vip_subnet_id": "public",
        "listeners": [
            {
                "protocol": "TERMINATED_HTTPS",
                "protocol_port": 443,
                **listener,
                "default_pool": {
                    "protocol": "HTTP",
                    "lb_algorithm": "ROUND_ROBIN",
                    "members": [{"address": backend.address, "protocol_port": backend.port}],
                },
            }
        ],
    }
    r = p.client.post("/v2/lbaas/loadbalancers", json={"loadbalancer": body})
    assert r.status_code == 201, r.text
    lb = p.wait_lb(r.json()["loadbalancer"]["id"])
    yield lb


def test_terminated_https_sni_alpn_client_auth_and_rotation(
    amp_portus: Portus, backends: Callable[[str], Backend], lab_ca: CA, tmp_path: Path
) -> None:
    p, ca = amp_portus, lab_ca
    backend = backends("member-1")
    default = store(p, ca.issue("default.example.com").bundle_pem(), "default")
    sni = store(p, ca.issue("sni.example.com").pkcs12(), "sni")
    ca_ref = store(p, ca.pem, "ca")
    revoked = ca.issue("revoked-client", client=True)
    crl_ref = store(p, ca.crl([revoked.cert]), "crl")
    good = ca.issue("good-client", client=True)

    # Bad certificates are refused at create time, not at reload.
    lb0 = p.create_lb(name="probe")
    bad = {"loadbalancer_id": lb0["id"], "protocol": "TERMINATED_HTTPS", "protocol_port": 443}
    expired = store(p, ca.issue("old.example.com", expired=True).bundle_pem(), "old")
    for ref, text in ((expired, "expired"), (default + "x", "Could not retrieve certificate")):
        r = p.client.post(
            "/v2/lbaas/listeners", json={"listener": {**bad, "default_tls_container_ref": ref}}
        )
        assert r.status_code == 400 and text in r.text, r.text
    other_ca = CA("Other")
    foreign_crl = store(p, other_ca.crl(), "foreign-crl")
    r = p.client.post(
        "/v2/lbaas/listeners",
        json={"listener": {**bad, "default_tls_container_ref": default,
                           "client_ca_tls_container_ref": ca_ref,
                           "client_crl_container_ref": foreign_crl}},
    )  # fmt: skip
    assert r.status_code == 400 and "not signed" in r.text, r.text

    listener = {
        "default_tls_container_ref": default,
        "sni_container_refs": [sni],
        "client_authentication": "OPTIONAL",
        "client_ca_tls_container_ref": ca_ref,
        "client_crl_container_ref": crl_ref,
        "insert_headers": {"X-SSL-Client-Verify": "true", "X-SSL-Client-CN": "true",
                           "X-Forwarded-Proto": "true"},
        "hsts_max_age": 600,
    }  # fmt: skip
    with tls_lb(p, backend, listener) as lb:
        vip = lb["vip_address"]
        # SNI picks the certificate; an unknown name gets the default.
        assert fetch(vip, 443, ca, tmp_path, sni="sni.example.com")[0] == "sni.example.com"
        cn, text, _ = fetch(vip, 443, ca, tmp_path, sni="unknown.example.com")
        assert cn == "default.example.com" and "member-1" in text
        assert "strict-transport-security: max-age=600;" in text.lower()
        # h2 when asked.
        assert fetch(vip, 443, ca, tmp_path, alpn=["h2", "http/1.1"])[2] == "h2"
        # OPTIONAL: no certificate passes, and the member is told so.
        backend.requests.clear()
        fetch(vip, 443, ca, tmp_path)
        headers = {k.lower(): v for k, v in backend.requests[-1].items()}
        assert headers["x-forwarded-proto"] == "https"
        assert "x-ssl-client-verify" in headers
        fetch(vip, 443, ca, tmp_path, client=good)
        headers = {k.lower(): v for k, v in backend.requests[-1].items()}
        assert headers["x-ssl-client-verify"] == "0"
        assert headers["x-ssl-client-cn"].strip('"') == "good-client"
        # A revoked certificate is refused.
        assert refused(lambda: fetch(vip, 443, ca, tmp_path, client=revoked))

        listener_id = p.client.get(
            "/v2/lbaas/listeners", params={"loadbalancer_id": lb["id"]}
        ).json()["listeners"][0]["id"]
        # MANDATORY: no certificate, no service; a good one still works.
        r = p.client.put(
            f"/v2/lbaas/listeners/{listener_id}",
            json={"listener": {"client_authentication": "MANDATORY"}},
        )
        assert r.status_code == 200, r.text
        p.wait_lb(lb["id"])
        assert refused(lambda: fetch(vip, 443, ca, tmp_path))
        assert "member-1" in fetch(vip, 443, ca, tmp_path, client=good)[1]

        # Rotation: a new default container ref swaps the served certificate.
        rotated = store(p, ca.issue("rotated.example.com").bundle_pem(), "rotated")
        r = p.client.put(
            f"/v2/lbaas/listeners/{listener_id}",
            json={"listener": {"default_tls_container_ref": rotated,
                               "client_authentication": "NONE"}},
        )  # fmt: skip
        assert r.status_code == 200, r.text
        p.wait_lb(lb["id"])
        assert fetch(vip, 443, ca, tmp_path, sni="x.example.com")[0] == "rotated.example.com"


def test_cli_secret_refs_go_into_a_listener(amp_portus: Portus, lab_ca: CA, tmp_path: Path) -> None:
    p, ca = amp_portus, lab_ca
    leaf = ca.issue("cli.example.com")
    (tmp_path / "cert.pem").write_bytes(leaf.cert_pem)
    (tmp_path / "key.pem").write_bytes(leaf.key_pem)
    km = p.url + "/key-manager/v1"
    cert = cli(km, "secret", "store", "--name", "c", "--file", str(tmp_path / "cert.pem"))
    key = cli(km, "secret", "store", "--name", "k", "--file", str(tmp_path / "key.pem"))
    container = cli(
        km, "secret", "container", "create", "--name", "tls", "--type", "certificate",
        "--secret", f"certificate={cert['Secret href']}",
        "--secret", f"private_key={key['Secret href']}",
    )  # fmt: skip
    lb = p.create_lb(name="cli")
    listener = cli(
        p.url, "loadbalancer", "listener", "create", "--protocol", "TERMINATED_HTTPS",
        "--protocol-port", "8443", "--default-tls-container-ref", container["Container href"],
        lb["id"],
    )  # fmt: skip
    assert listener["default_tls_container_ref"] == container["Container href"]
    p.wait_lb(lb["id"])
    assert fetch(lb["vip_address"], 8443, ca, tmp_path, sni="cli.example.com")[0] == (
        "cli.example.com"
    )


def test_reencrypting_pool_verifies_members_against_the_ca(
    amp_portus: Portus, lab: Lab, lab_ca: CA, tmp_path: Path
) -> None:
    p, ca = amp_portus, lab_ca
    signed = ca.issue("member.example.com")
    rogue = CA("Rogue").issue("member.example.com")
    servers = []
    for name, issued in (("signed", signed), ("rogue", rogue)):
        (tmp_path / f"{name}.pem").write_bytes(issued.bundle_pem())
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(str(tmp_path / f"{name}.pem"))
        servers.append(lab.tcp(name, tls=ctx))
    ca_ref = store(p, ca.pem, "member-ca")
    lb = p.create_lb(name="reencrypt")
    r = p.client.post(
        "/v2/lbaas/listeners",
        json={"listener": {"loadbalancer_id": lb["id"], "protocol": "TCP", "protocol_port": 9000}},
    )
    assert r.status_code == 201, r.text
    p.wait_lb(lb["id"])
    pools = {}
    for server in servers:
        body = {"loadbalancer_id": lb["id"], "protocol": "HTTPS", "lb_algorithm": "ROUND_ROBIN",
                "tls_enabled": True, "ca_tls_container_ref": ca_ref,
                "members": [{"address": server.address, "protocol_port": server.port}]}  # fmt: skip
        r = p.client.post("/v2/lbaas/pools", json={"pool": body})
        assert r.status_code == 201, r.text
        pools[server.name] = r.json()["pool"]["id"]
        p.wait_lb(lb["id"])
    listener_id = p.client.get("/v2/lbaas/listeners", params={"loadbalancer_id": lb["id"]}).json()[
        "listeners"
    ][0]["id"]

    def answer(pool_name: str) -> bytes:
        r = p.client.put(
            f"/v2/lbaas/listeners/{listener_id}",
            json={"listener": {"default_pool_id": pools[pool_name]}},
        )
        assert r.status_code == 200, r.text
        p.wait_lb(lb["id"])
        with socket.create_connection((lb["vip_address"], 9000), timeout=5) as s:
            s.sendall(b"hello")
            with contextlib.suppress(OSError):
                return s.recv(100)
        return b""

    assert answer("signed") == b"signed"
    assert answer("rogue") == b""
