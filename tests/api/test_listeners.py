"""Listeners through the HTTP API and the openstack CLI: what a client sees."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from portus.db.models import ListenerStats
from tests.support.osc import fault
from tests.support.portus_app import Portus

LISTENERS = "/v2/lbaas/listeners"
POOLS = "/v2/lbaas/pools"
CERT = "https://barbican.example/v1/containers/0a1b2c3d"


def post_listener(portus: Portus, lb_id: str, **fields: Any) -> Any:
    body = {"loadbalancer_id": lb_id, "protocol": "HTTP", "protocol_port": 80, **fields}
    return portus.client.post(LISTENERS, json={"listener": body})


def test_create_defaults_and_active(portus_module: Portus) -> None:
    lb = portus_module.create_lb()
    r = post_listener(portus_module, lb["id"], name="web")
    assert r.status_code == 201, r.text
    li = r.json()["listener"]
    assert li["provisioning_status"] == "PENDING_CREATE"
    assert li["loadbalancers"] == [{"id": lb["id"]}]
    assert li["connection_limit"] == -1
    assert (li["timeout_client_data"], li["timeout_member_connect"]) == (50000, 5000)
    assert (li["timeout_member_data"], li["timeout_tcp_inspect"]) == (50000, 0)
    assert li["insert_headers"] == {} and li["sni_container_refs"] == []
    assert li["allowed_cidrs"] is None and li["client_authentication"] == "NONE"
    # TLS defaults belong to TLS listeners only.
    assert li["tls_ciphers"] is None and li["tls_versions"] is None
    assert li["alpn_protocols"] is None
    assert li["hsts_max_age"] is None and li["hsts_preload"] is False
    assert li["description"] == "" and li["tenant_id"] == li["project_id"]
    assert "loadbalancer_id" not in li
    done = portus_module.wait_for(f"{LISTENERS}/{li['id']}", "listener")
    assert done["operating_status"] == "OFFLINE"
    assert portus_module.wait_lb(lb["id"])["listeners"] == [{"id": li["id"]}]


def test_port_is_unique_per_l4_family(portus_module: Portus) -> None:
    lb = portus_module.create_lb()
    assert post_listener(portus_module, lb["id"]).status_code == 201
    r = post_listener(portus_module, lb["id"], protocol="TCP")
    assert r.status_code == 409
    assert fault(r) == (
        "Another Listener on this Load Balancer is already using protocol TCP and protocol_port 80"
    )
    assert post_listener(portus_module, lb["id"], protocol="UDP").status_code == 201
    assert post_listener(portus_module, lb["id"], protocol="SCTP").status_code == 201
    assert post_listener(portus_module, lb["id"], protocol="UDP").status_code == 409
    r = post_listener(portus_module, lb["id"], protocol="QUIC")
    assert r.status_code == 400
    assert "Value should be one of:" in fault(r)


@pytest.mark.parametrize(
    ("protocol", "headers", "ok"),
    [
        ("HTTP", {"X-Forwarded-For": "true", "X-Forwarded-Proto": "true"}, True),
        ("HTTP", {"X-SSL-Client-CN": "true"}, False),
        ("HTTP", {"X-Bogus": "true"}, False),
        ("TCP", {"X-Forwarded-For": "true"}, False),
        ("UDP", {"X-Forwarded-For": "true"}, False),
        ("TERMINATED_HTTPS", {"X-SSL-Client-CN": "true", "X-Forwarded-Port": "true"}, True),
    ],
)
def test_insert_headers_per_protocol(
    portus_module: Portus, protocol: str, headers: dict[str, str], ok: bool
) -> None:
    lb = portus_module.create_lb()
    extra = {"default_tls_container_ref": CERT} if protocol == "TERMINATED_HTTPS" else {}
    r = post_listener(portus_module, lb["id"], protocol=protocol, insert_headers=headers, **extra)
    assert r.status_code == (201 if ok else 400), r.text
    if ok:
        assert r.json()["listener"]["insert_headers"] == headers


def test_insert_header_texts(portus_module: Portus) -> None:
    lb = portus_module.create_lb()
    r = post_listener(portus_module, lb["id"], insert_headers={"X-SSL-Client-CN": "true"})
    assert fault(r) == "['X-SSL-Client-CN'] is not a valid option for HTTP protocol listener."


def test_tls_rules(portus_module: Portus) -> None:
    lb = portus_module.create_lb()
    r = post_listener(portus_module, lb["id"], protocol="TERMINATED_HTTPS", protocol_port=443)
    assert r.status_code == 400
    assert "An SNI or default certificate container reference must be provided" in fault(r)
    r = post_listener(portus_module, lb["id"], default_tls_container_ref=CERT)
    assert r.status_code == 400
    assert "Certificate container references are not allowed on HTTP protocol listeners." in fault(
        r
    )
    r = post_listener(portus_module, lb["id"], hsts_max_age=100)
    assert r.status_code == 400 and "TERMINATED_HTTPS" in fault(r)
    r = post_listener(
        portus_module,
        lb["id"],
        protocol="TERMINATED_HTTPS",
        sni_container_refs=[CERT],
        hsts_preload=True,
    )
    assert r.status_code == 400 and "hsts_max_age" in fault(r)
    r = post_listener(
        portus_module,
        lb["id"],
        protocol="TERMINATED_HTTPS",
        default_tls_container_ref=CERT,
        client_authentication="MANDATORY",
    )
    assert r.status_code == 400 and "client CA container reference" in fault(r)
    r = post_listener(
        portus_module,
        lb["id"],
        protocol="TERMINATED_HTTPS",
        protocol_port=443,
        default_tls_container_ref=CERT,
        hsts_max_age=31536000,
        hsts_include_subdomains=True,
    )
    assert r.status_code == 201, r.text
    li = r.json()["listener"]
    assert li["tls_versions"] == ["TLSv1.2", "TLSv1.3"]
    assert li["alpn_protocols"] == ["h2", "http/1.1", "http/1.0"]
    assert li["tls_ciphers"].startswith("TLS_AES_256_GCM_SHA384:")
    assert li["hsts_max_age"] == 31536000 and li["hsts_include_subdomains"] is True
    # null puts the default back; an empty SNI list with no default cert is refused.
    r = portus_module.client.put(
        f"{LISTENERS}/{li['id']}", json={"listener": {"tls_versions": ["TLSv1.3"]}}
    )
    assert r.json()["listener"]["tls_versions"] == ["TLSv1.3"]
    r = portus_module.client.put(
        f"{LISTENERS}/{li['id']}", json={"listener": {"tls_versions": None}}
    )
    assert r.json()["listener"]["tls_versions"] == ["TLSv1.2", "TLSv1.3"]
    r = portus_module.client.put(
        f"{LISTENERS}/{li['id']}", json={"listener": {"default_tls_container_ref": None}}
    )
    assert r.status_code == 400
    r = portus_module.client.put(
        f"{LISTENERS}/{li['id']}", json={"listener": {"tls_versions": ["TLSv9"]}}
    )
    assert r.status_code == 400


def test_allowed_cidrs_are_normalised_and_match_vip_family(portus_module: Portus) -> None:
    lb = portus_module.create_lb()
    cidrs = ["10.1.2.3/8", "10.0.0.0/8", "192.168.7.1/24"]
    r = post_listener(portus_module, lb["id"], allowed_cidrs=cidrs)
    assert r.status_code == 201, r.text
    li = r.json()["listener"]
    assert li["allowed_cidrs"] == ["10.0.0.0/8", "192.168.7.0/24"]
    r = post_listener(portus_module, lb["id"], protocol_port=81, allowed_cidrs=["2001:db8::/64"])
    assert r.status_code == 400 and "IP version incompatible" in fault(r)
    r = post_listener(portus_module, lb["id"], protocol_port=82, allowed_cidrs=["10.0.0.300/8"])
    assert r.status_code == 400
    r = portus_module.client.put(
        f"{LISTENERS}/{li['id']}", json={"listener": {"allowed_cidrs": None}}
    )
    assert r.json()["listener"]["allowed_cidrs"] is None


def test_default_pool_rules(portus_module: Portus) -> None:
    lb = portus_module.create_lb()
    other = portus_module.create_lb()
    li = post_listener(portus_module, lb["id"]).json()["listener"]
    udp = portus_module.client.post(
        POOLS,
        json={
            "pool": {"loadbalancer_id": lb["id"], "protocol": "UDP", "lb_algorithm": "ROUND_ROBIN"}
        },
    ).json()["pool"]
    foreign = portus_module.client.post(
        POOLS,
        json={
            "pool": {
                "loadbalancer_id": other["id"],
                "protocol": "HTTP",
                "lb_algorithm": "ROUND_ROBIN",
            }
        },
    ).json()["pool"]
    url = f"{LISTENERS}/{li['id']}"
    r = portus_module.client.put(url, json={"listener": {"default_pool_id": udp["id"]}})
    assert r.status_code == 400
    assert "The pool protocol 'UDP' is invalid while the listener protocol is 'HTTP'." in fault(r)
    r = portus_module.client.put(url, json={"listener": {"default_pool_id": foreign["id"]}})
    assert r.status_code == 400
    missing = "00000000-0000-0000-0000-000000000001"
    r = portus_module.client.put(url, json={"listener": {"default_pool_id": missing}})
    assert r.status_code == 404 and fault(r) == f"Pool {missing} not found."
    prom = post_listener(portus_module, lb["id"], protocol="PROMETHEUS", protocol_port=9100)
    assert prom.status_code == 201, prom.text
    r = portus_module.client.put(
        f"{LISTENERS}/{prom.json()['listener']['id']}",
        json={"listener": {"default_pool_id": udp["id"]}},
    )
    assert r.status_code == 400
    assert fault(r) == "Protocol PROMETHEUS listeners cannot have child objects."


def test_update_resets_and_immutables(portus_module: Portus) -> None:
    lb = portus_module.create_lb()
    li = post_listener(
        portus_module, lb["id"], connection_limit=10, timeout_client_data=1000, name="a"
    ).json()["listener"]
    url = f"{LISTENERS}/{li['id']}"
    r = portus_module.client.put(
        url,
        json={"listener": {"connection_limit": None, "timeout_client_data": None, "name": None}},
    )
    assert r.status_code == 200
    got = r.json()["listener"]
    assert got["connection_limit"] == -1 and got["timeout_client_data"] == 50000
    assert got["name"] == ""
    r = portus_module.client.put(url, json={"listener": {"protocol_port": 81}})
    assert r.status_code == 400
    assert fault(r) == "Unknown attribute for argument listener: protocol_port"
    r = portus_module.client.put(url, json={"listener": {"timeout_client_data": 2073600001}})
    assert r.status_code == 400
    assert portus_module.wait_for(url, "listener")["updated_at"] is not None


def test_delete_takes_l7_policies_and_then_404(portus_module: Portus) -> None:
    lb = portus_module.create_lb()
    li = post_listener(portus_module, lb["id"]).json()["listener"]
    r = portus_module.client.post(
        "/v2/lbaas/l7policies",
        json={"l7policy": {"listener_id": li["id"], "action": "REJECT"}},
    )
    assert r.status_code == 201, r.text
    policy = r.json()["l7policy"]
    assert portus_module.client.get(f"{LISTENERS}/{li['id']}").json()["listener"]["l7policies"] == [
        {"id": policy["id"]}
    ]
    assert portus_module.client.delete(f"{LISTENERS}/{li['id']}").status_code == 204
    portus_module.wait_for(f"{LISTENERS}/{li['id']}", "listener", "DELETED")
    assert portus_module.client.get(f"/v2/lbaas/l7policies/{policy['id']}").status_code == 404
    assert portus_module.wait_lb(lb["id"])["listeners"] == []


def test_writes_to_a_deleting_lb_are_409(portus: Portus) -> None:
    lb = portus.create_lb()
    li = post_listener(portus, lb["id"]).json()["listener"]
    portus.wait_lb(lb["id"])
    with portus.db.session() as s:
        from portus.db.models import LoadBalancer

        row = s.get(LoadBalancer, lb["id"])
        assert row is not None
        row.provisioning_status = "PENDING_DELETE"
    r = portus.client.put(f"{LISTENERS}/{li['id']}", json={"listener": {"name": "x"}})
    assert r.status_code == 409
    assert fault(r) == f"Load Balancer {lb['id']} is immutable and cannot be updated."
    assert post_listener(portus, lb["id"], protocol_port=81).status_code == 409


def test_stats_sum_the_amphora_rows(portus_module: Portus) -> None:
    lb = portus_module.create_lb()
    li = post_listener(portus_module, lb["id"]).json()["listener"]
    url = f"{LISTENERS}/{li['id']}/stats"
    zero = dict.fromkeys(
        ("bytes_in", "bytes_out", "active_connections", "total_connections", "request_errors"), 0
    )
    assert portus_module.client.get(url).json() == {"stats": zero}
    with portus_module.db.session() as s:
        for amp, n in (("amp-a", 1), ("amp-b", 10)):
            s.add(
                ListenerStats(
                    listener_id=li["id"],
                    amphora_id=amp,
                    load_balancer_id=lb["id"],
                    bytes_in=n,
                    bytes_out=2 * n,
                    active_connections=3 * n,
                    total_connections=4 * n,
                    request_errors=5 * n,
                )
            )
    stats = portus_module.client.get(url).json()["stats"]
    assert stats == {
        "bytes_in": 11,
        "bytes_out": 22,
        "active_connections": 33,
        "total_connections": 44,
        "request_errors": 55,
    }
    missing = "00000000-0000-0000-0000-00000000dead"
    assert portus_module.client.get(f"{LISTENERS}/{missing}/stats").status_code == 404


def test_list_filters_fields_and_pages(portus_module: Portus) -> None:
    lb = portus_module.create_lb()
    for port in (1001, 1002, 1003):
        assert (
            post_listener(portus_module, lb["id"], protocol_port=port, tags=["t"]).status_code
            == 201
        )
    params: dict[str, Any] = {"loadbalancer_id": lb["id"], "sort": "protocol_port:desc"}
    got = portus_module.client.get(LISTENERS, params=params).json()["listeners"]
    assert [x["protocol_port"] for x in got] == [1003, 1002, 1001]
    page = portus_module.client.get(LISTENERS, params={**params, "limit": 2}).json()
    assert len(page["listeners"]) == 2
    assert [link["rel"] for link in page["listeners_links"]] == ["next"]
    only = portus_module.client.get(LISTENERS, params={**params, "fields": "protocol_port"})
    assert only.json()["listeners"][0] == {"protocol_port": 1003}
    tagged = portus_module.client.get(LISTENERS, params={"loadbalancer_id": lb["id"], "tags": "t"})
    assert len(tagged.json()["listeners"]) == 3
    assert portus_module.client.get(LISTENERS, params={"bogus": "1"}).status_code == 400


def test_quota(portus: Portus) -> None:
    lb = portus.create_lb()
    r = portus.client.put("/v2/lbaas/quotas/admin", json={"quota": {"listener": 1}})
    assert r.status_code == 202, r.text
    assert post_listener(portus, lb["id"]).status_code == 201
    r = post_listener(portus, lb["id"], protocol_port=81)
    assert r.status_code == 403
    assert fault(r) == "Quota has been met for resources: Listener"


def cli(portus: Portus, *args: str, output: bool = True) -> Any:
    cmd = [
        ".venv/bin/openstack",
        "--os-auth-type",
        "none",
        "--os-endpoint",
        portus.url,
        "loadbalancer",
        *args,
    ]
    if output:
        cmd += ["-f", "json"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout) if output and r.stdout.strip() else None


@pytest.mark.slow  # each openstack CLI call starts a Python interpreter (~2 s)
def test_openstack_cli_listener_lifecycle(portus_module: Portus) -> None:
    lb = portus_module.create_lb(name="cli-listeners")
    created = cli(
        portus_module,
        "listener",
        "create",
        "--name",
        "web",
        "--protocol",
        "HTTP",
        "--protocol-port",
        "8080",
        "--allowed-cidr",
        "10.0.0.0/8",
        lb["id"],
    )
    assert created["protocol_port"] == 8080 and created["allowed_cidrs"] == ["10.0.0.0/8"]
    portus_module.wait_for(f"{LISTENERS}/{created['id']}", "listener")
    listed = cli(portus_module, "listener", "list", "--loadbalancer", lb["id"])
    assert [x["name"] for x in listed] == ["web"]
    cli(
        portus_module,
        "listener",
        "set",
        "--name",
        "web2",
        "--connection-limit",
        "7",
        "--timeout-client-data",
        "1234",
        created["id"],
        output=False,
    )
    portus_module.wait_for(f"{LISTENERS}/{created['id']}", "listener")
    shown = cli(portus_module, "listener", "show", "web2")
    assert shown["connection_limit"] == 7 and shown["timeout_client_data"] == 1234
    cli(
        portus_module,
        "listener",
        "unset",
        "--connection-limit",
        "--timeout-client-data",
        "--allowed-cidrs",
        created["id"],
        output=False,
    )
    shown = cli(portus_module, "listener", "show", created["id"])
    assert shown["connection_limit"] == -1 and shown["timeout_client_data"] == 50000
    assert shown["allowed_cidrs"] is None
    portus_module.wait_for(f"{LISTENERS}/{created['id']}", "listener")
    cli(portus_module, "listener", "delete", created["id"], output=False)
    portus_module.wait_for(f"{LISTENERS}/{created['id']}", "listener", "DELETED")
    assert cli(portus_module, "listener", "list", "--loadbalancer", lb["id"]) == []
