"""The Barbican backend for real: one Portus serves ``/key-manager/v1`` (the Barbican v1 subset),
another reads its certificates from there with ``cert_backend=barbican``; then the store goes
away and the LB's failover and delete still complete."""

from __future__ import annotations

import base64
import shutil
import socket
import ssl
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from portus.config import SubnetConfig
from tests.support.portus_app import Portus, make_settings

from dataplane_support import needs_root
from tls_certgen import CA

pytestmark = [needs_root]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Portus]:
    """A Portus used only as the key manager (noop provider)."""
    (tmp_path / "store").mkdir()
    p = Portus(make_settings(tmp_path / "store")).start()
    try:
        yield p
    finally:
        p.stop()


@pytest.fixture
def consumer(subnet: SubnetConfig, store: Portus) -> Iterator[Portus]:
    """An amphora-provider Portus whose certificates come from ``store`` over HTTP."""
    state = Path(tempfile.mkdtemp(prefix="portus-"))  # short: HAProxy socket paths
    settings = make_settings(state).with_(
        provider="amphora",
        subnets=(subnet,),
        cert_backend="barbican",
        barbican_endpoint=store.url + "/key-manager/v1",
    )
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


def store_secret(p: Portus, data: bytes, name: str) -> str:
    body = {
        "name": name,
        "payload": base64.b64encode(data).decode(),
        "payload_content_type": "application/octet-stream",
        "payload_content_encoding": "base64",
    }
    r = p.client.post("/key-manager/v1/secrets", json=body)
    assert r.status_code == 201, r.text
    return str(r.json()["secret_ref"])


def served_cn(vip: str, ca: CA, tmp: Path) -> str:
    (tmp / "ca.pem").write_bytes(ca.pem)
    ctx = ssl.create_default_context(cafile=str(tmp / "ca.pem"))
    ctx.check_hostname = False
    with (
        socket.create_connection((vip, 443), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname="www.example.com") as tls,
    ):
        cert: Any = tls.getpeercert()
    return str(dict(x[0] for x in cert["subject"])["commonName"])


def amphora_ids(p: Portus, lb_id: str) -> list[str]:
    r = p.client.get("/v2/octavia/amphorae", params={"loadbalancer_id": lb_id})
    return [a["id"] for a in r.json()["amphorae"]]


def test_barbican_backend_and_store_outage(store: Portus, consumer: Portus, tmp_path: Path) -> None:
    ca = CA()
    leaf = ca.issue("www.example.com")
    cert = store_secret(store, leaf.cert_pem, "cert")
    key = store_secret(store, leaf.key_pem, "key")
    r = store.client.post(
        "/key-manager/v1/containers",
        json={"name": "www", "type": "certificate", "secret_refs": [
            {"name": "certificate", "secret_ref": cert},
            {"name": "private_key", "secret_ref": key},
        ]},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    container = r.json()["container_ref"]
    assert container.startswith(store.url + "/key-manager/v1/containers/")

    lb = consumer.create_lb(name="barbican")
    base = {"loadbalancer_id": lb["id"], "protocol": "TERMINATED_HTTPS", "protocol_port": 443}
    # Refs are resolved through the Barbican API at create time: an unknown one is a 400.
    r = consumer.client.post(
        "/v2/lbaas/listeners", json={"listener": {**base, "default_tls_container_ref": cert + "0"}}
    )
    assert r.status_code == 400 and "Could not retrieve certificate" in r.text, r.text
    r = consumer.client.post(
        "/v2/lbaas/listeners", json={"listener": {**base, "default_tls_container_ref": container}}
    )
    assert r.status_code == 201, r.text
    consumer.wait_lb(lb["id"])
    vip = lb["vip_address"]
    assert served_cn(vip, ca, tmp_path) == "www.example.com"

    # The store goes away.
    store.stop()
    # New refs cannot be checked: refused at once, nothing hangs.
    other = base | {"protocol_port": 8443, "default_tls_container_ref": container}
    r = consumer.client.post("/v2/lbaas/listeners", json={"listener": other})
    assert r.status_code == 400 and "Could not retrieve certificate" in r.text, r.text

    # Failover rebuilds the amphora from the certificates it was last given.
    old = amphora_ids(consumer, lb["id"])
    r = consumer.client.put(f"/v2/lbaas/loadbalancers/{lb['id']}/failover")
    assert r.status_code == 202, r.text
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = consumer.client.get(f"/v2/lbaas/loadbalancers/{lb['id']}").json()["loadbalancer"]
        amps = amphora_ids(consumer, lb["id"])
        if now["provisioning_status"] == "ACTIVE" and amps and set(amps).isdisjoint(old):
            break
        assert now["provisioning_status"] != "ERROR", now
        time.sleep(0.1)
    else:
        raise AssertionError(f"failover did not complete without the store: {now}")
    assert served_cn(vip, ca, tmp_path) == "www.example.com"

    # Delete does not need the store either.
    r = consumer.client.delete(f"/v2/lbaas/loadbalancers/{lb['id']}", params={"cascade": True})
    assert r.status_code == 204, r.text
    consumer.wait_for(f"/v2/lbaas/loadbalancers/{lb['id']}", "loadbalancer", "DELETED", 30)
    assert not list((consumer.settings.state_dir / "tls-cache").glob(f"{lb['id']}*"))
