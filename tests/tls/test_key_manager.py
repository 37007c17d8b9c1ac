"""The built-in key manager through the real `openstack secret ...` CLI and plain HTTP."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.support.portus_app import Portus

from tls_certgen import CA, CLIError
from tls_certgen import openstack as run_openstack


def km(p: Portus) -> str:
    return p.url + "/key-manager/v1"


def test_cli_store_get_list_delete_secret_and_container(portus: Portus, tmp_path: Path) -> None:
    ca = CA()
    leaf = ca.issue("cli.example.com")
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(leaf.cert_pem)
    key_file.write_bytes(leaf.key_pem)
    url = km(portus)
    cert = run_openstack(url, "secret", "store", "--name", "cert", "--file", str(cert_file))
    key = run_openstack(url, "secret", "store", "--name", "key", "--file", str(key_file))
    cert_ref, key_ref = cert["Secret href"], key["Secret href"]
    assert cert_ref.startswith(url + "/secrets/")
    payload = run_openstack(url, "secret", "get", "--payload", cert_ref)
    assert payload["Payload"].strip() == leaf.cert_pem.decode().strip()
    names = {s["Name"] for s in run_openstack(url, "secret", "list")}
    assert names == {"cert", "key"}

    container = run_openstack(
        url, "secret", "container", "create", "--name", "tls", "--type", "certificate",
        "--secret", f"certificate={cert_ref}", "--secret", f"private_key={key_ref}",
    )  # fmt: skip
    ref = container["Container href"]
    # The client's JSON formatter chokes on its own datetimes here: ask for plain values.
    shown = run_openstack(
        url, "secret", "container", "get", ref, "-f", "value", "-c", "Name", "-c", "Type",
        json_out=False,
    )  # fmt: skip
    assert shown.split() == ["tls", "certificate"]
    listed = run_openstack(
        url, "secret", "container", "list", "-f", "value", "-c", "Name", json_out=False
    )
    assert listed.split() == ["tls"]

    run_openstack(url, "secret", "container", "delete", ref, json_out=False)
    run_openstack(url, "secret", "delete", key_ref, json_out=False)
    assert {s["Name"] for s in run_openstack(url, "secret", "list")} == {"cert"}
    try:
        run_openstack(url, "secret", "get", key_ref)
    except CLIError as exc:
        assert "404" in str(exc) or "Not Found" in str(exc)
    else:
        raise AssertionError("a deleted secret is still readable")


def test_payload_is_encrypted_at_rest_and_key_stays_out_of_db(portus: Portus) -> None:
    marker = "TOP-SECRET-MARKER-0123456789"
    r = portus.client.post(
        "/key-manager/v1/secrets/",
        json={"name": "s", "payload": marker, "payload_content_type": "text/plain"},
    )
    assert r.status_code == 201, r.text
    ref = r.json()["secret_ref"]
    got = portus.client.get(ref + "/payload", headers={"Accept": "text/plain"})
    assert got.status_code == 200 and got.text == marker
    db_file = portus.settings.state_dir / "portus.db"
    if db_file.exists():  # SQLite: look at the raw rows, and at the key file
        with sqlite3.connect(db_file) as conn:
            rows = conn.execute("select payload from secrets").fetchall()
        assert rows and all(marker not in str(row[0]) for row in rows)
        key = (portus.settings.state_dir / "secret.key").read_bytes().strip()
        with sqlite3.connect(db_file) as conn:
            dump = "\n".join(conn.iterdump())
        assert key.decode() not in dump


def test_secrets_are_scoped_to_their_project(portus: Portus) -> None:
    r = portus.client.post(
        "/key-manager/v1/secrets",
        json={"payload": "x", "payload_content_type": "text/plain"},
        headers={"X-Project-Id": "other"},
    )
    assert r.status_code == 201, r.text
    ref = r.json()["secret_ref"]
    # Another project does not list it.
    listed = portus.client.get("/key-manager/v1/secrets").json()
    assert ref not in [s["secret_ref"] for s in listed["secrets"]]


def test_bad_requests_get_barbican_errors(portus: Portus) -> None:
    r = portus.client.post("/key-manager/v1/secrets", json={"payload": "x"})
    assert r.status_code == 400
    assert "payload_content_type" in r.json()["description"]
    r = portus.client.post(
        "/key-manager/v1/containers",
        json={"type": "certificate", "secret_refs": [{"name": "private_key",
                                                      "secret_ref": "http://x/secrets/nope"}]},
    )  # fmt: skip
    assert r.status_code == 400
    assert portus.client.get("/key-manager/v1/secrets/nope").status_code == 404
