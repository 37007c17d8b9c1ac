"""Pools through the HTTP API and the openstack CLI: what a client sees."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from tests.support.osc import fault
from tests.support.portus_app import Portus

LISTENERS = "/v2/lbaas/listeners"
POOLS = "/v2/lbaas/pools"


def post_pool(portus: Portus, **fields: Any) -> Any:
    body = {"protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", **fields}
    return portus.client.post(POOLS, json={"pool": body})


def post_listener(portus: Portus, lb_id: str, **fields: Any) -> dict[str, Any]:
    body = {"loadbalancer_id": lb_id, "protocol": "HTTP", "protocol_port": 80, **fields}
    r = portus.client.post(LISTENERS, json={"listener": body})
    assert r.status_code == 201, r.text
    return dict(r.json()["listener"])


def test_create_on_lb_defaults_and_active(portus_module: Portus) -> None:
    lb = portus_module.create_lb()
    r = post_pool(portus_module, loadbalancer_id=lb["id"], name="p")
    assert r.status_code == 201, r.text
    pool = r.json()["pool"]
    assert pool["provisioning_status"] == "PENDING_CREATE"
    assert pool["loadbalancers"] == [{"id": lb["id"]}] and pool["listeners"] == []
    assert pool["members"] == [] and pool["healthmonitor_id"] is None
    assert pool["session_persistence"] is None and pool["tls_enabled"] is False
    assert pool["tls_ciphers"] is None and pool["tls_versions"] is None
    assert pool["alpn_protocols"] is None and pool["description"] == ""
    portus_module.wait_for(f"{POOLS}/{pool['id']}", "pool")
    assert portus_module.wait_lb(lb["id"])["pools"] == [{"id": pool["id"]}]


def test_needs_a_parent(portus_module: Portus) -> None:
    r = post_pool(portus_module)
    assert r.status_code == 400
    assert "Must provide at least one of: loadbalancer_id, listener_id" in fault(r)
    missing = "00000000-0000-0000-0000-000000000002"
    r = post_pool(portus_module, loadbalancer_id=missing)
    assert r.status_code == 404
    r = post_pool(portus_module, lb_algorithm="RANDOM", loadbalancer_id=missing)
    assert r.status_code == 400 and "Value should be one of:" in fault(r)


def test_listener_id_makes_the_default_pool(portus_module: Portus) -> None:
    lb = portus_module.create_lb()
    li = post_listener(portus_module, lb["id"])
    r = post_pool(portus_module, listener_id=li["id"])
    assert r.status_code == 201, r.text
    pool = r.json()["pool"]
    assert pool["listeners"] == [{"id": li["id"]}]
    assert pool["loadbalancers"] == [{"id": lb["id"]}]
    shown = portus_module.client.get(f"{LISTENERS}/{li['id']}").json()["listener"]
    assert shown["default_pool_id"] == pool["id"]
    r = post_pool(portus_module, listener_id=li["id"])
    assert r.status_code == 409 and fault(r) == "This listener already has a default pool"
    tcp = post_listener(portus_module, lb["id"], protocol="TCP", protocol_port=81)
    r = post_pool(portus_module, listener_id=tcp["id"], protocol="UDP")
    assert r.status_code == 400
    assert "The pool protocol 'UDP' is invalid while the listener protocol is 'TCP'." in fault(r)
    prom = post_listener(portus_module, lb["id"], protocol="PROMETHEUS", protocol_port=9100)
    r = post_pool(portus_module, listener_id=prom["id"])
    assert r.status_code == 400
    assert fault(r) == "Protocol PROMETHEUS listeners cannot have child objects."
    other = portus_module.create_lb()
    r = post_pool(portus_module, listener_id=tcp["id"], loadbalancer_id=other["id"])
    assert r.status_code == 400


@pytest.mark.parametrize(
    ("protocol", "sp", "needle"),
    [
        ("HTTP", {"type": "APP_COOKIE"}, 'must be specified when using the "APP_COOKIE"'),
        ("HTTP", {"type": "HTTP_COOKIE", "cookie_name": "a"}, "can only be specified with"),
        ("HTTP", {"type": "APP_COOKIE", "cookie_name": "a b"}, 'Supplied "cookie_name" is invalid'),
        ("HTTP", {"type": "APP_COOKIE", "cookie_name": "a;b"}, 'Supplied "cookie_name" is invalid'),
        ("HTTP", {"type": "SOURCE_IP", "persistence_timeout": 5}, "only supported for UDP"),
        ("UDP", {"type": "HTTP_COOKIE"}, "not supported for UDP protocol pools"),
        ("HTTP", {"cookie_name": "a"}, "Mandatory field missing."),
    ],
)
def test_session_persistence_refused(
    portus_module: Portus, protocol: str, sp: dict[str, Any], needle: str
) -> None:
    lb = portus_module.create_lb()
    r = post_pool(
        portus_module, loadbalancer_id=lb["id"], protocol=protocol, session_persistence=sp
    )
    assert r.status_code == 400
    assert needle in fault(r)


def test_session_persistence_accepted_and_updated(portus_module: Portus) -> None:
    lb = portus_module.create_lb()
    udp = post_pool(
        portus_module,
        loadbalancer_id=lb["id"],
        protocol="UDP",
        session_persistence={"type": "SOURCE_IP"},
    ).json()["pool"]
    assert udp["session_persistence"]["persistence_timeout"] == 360
    pool = post_pool(
        portus_module,
        loadbalancer_id=lb["id"],
        lb_algorithm="SOURCE_IP_PORT",
        session_persistence={"type": "APP_COOKIE", "cookie_name": "JSESSIONID"},
    ).json()["pool"]
    assert pool["lb_algorithm"] == "SOURCE_IP_PORT"
    assert pool["session_persistence"] == {
        "type": "APP_COOKIE",
        "cookie_name": "JSESSIONID",
        "persistence_timeout": None,
        "persistence_granularity": None,
    }
    url = f"{POOLS}/{pool['id']}"
    r = portus_module.client.put(url, json={"pool": {"session_persistence": {"cookie_name": "S"}}})
    assert r.status_code == 200, r.text
    assert r.json()["pool"]["session_persistence"]["type"] == "APP_COOKIE"
    assert r.json()["pool"]["session_persistence"]["cookie_name"] == "S"
    r = portus_module.client.put(url, json={"pool": {"session_persistence": {"type": "SOURCE_IP"}}})
    assert r.json()["pool"]["session_persistence"]["cookie_name"] is None
    r = portus_module.client.put(url, json={"pool": {"session_persistence": None}})
    assert r.json()["pool"]["session_persistence"] is None
    r = portus_module.client.put(url, json={"pool": {"protocol": "TCP"}})
    assert r.status_code == 400
    assert portus_module.wait_for(url, "pool")["lb_algorithm"] == "SOURCE_IP_PORT"


def test_tls_defaults_only_when_enabled(portus_module: Portus) -> None:
    lb = portus_module.create_lb()
    pool = post_pool(portus_module, loadbalancer_id=lb["id"], tls_enabled=True).json()["pool"]
    assert pool["tls_versions"] == ["TLSv1.2", "TLSv1.3"]
    assert pool["alpn_protocols"] == ["h2", "http/1.1", "http/1.0"]
    assert pool["tls_ciphers"]
    url = f"{POOLS}/{pool['id']}"
    off = portus_module.client.put(url, json={"pool": {"tls_enabled": False}}).json()["pool"]
    assert off["tls_versions"] is None and off["tls_ciphers"] is None
    r = post_pool(portus_module, loadbalancer_id=lb["id"], crl_container_ref="ref")
    assert r.status_code == 400
    assert "A CA certificate reference is required to specify a revocation list." in fault(r)


def test_pool_create_with_monitor_and_members(portus_module: Portus) -> None:
    lb = portus_module.create_lb()
    r = post_pool(
        portus_module,
        loadbalancer_id=lb["id"],
        healthmonitor={"type": "HTTP", "delay": 5, "timeout": 3, "max_retries": 2},
        members=[{"address": "192.0.2.10", "protocol_port": 80}],
    )
    assert r.status_code == 201, r.text
    pool = r.json()["pool"]
    assert pool["healthmonitor_id"] and len(pool["members"]) == 1
    members = portus_module.client.get(f"{POOLS}/{pool['id']}/members").json()["members"]
    assert members[0]["operating_status"] == "OFFLINE"


def test_delete_removes_members_and_monitor(portus_module: Portus) -> None:
    lb = portus_module.create_lb()
    li = post_listener(portus_module, lb["id"])
    pool = post_pool(
        portus_module,
        listener_id=li["id"],
        healthmonitor={"type": "TCP", "delay": 5, "timeout": 3, "max_retries": 2},
        members=[{"address": "192.0.2.11", "protocol_port": 80}],
    ).json()["pool"]
    portus_module.wait_for(f"{POOLS}/{pool['id']}", "pool")
    member_id = pool["members"][0]["id"]
    assert portus_module.client.delete(f"{POOLS}/{pool['id']}").status_code == 204
    portus_module.wait_for(f"{POOLS}/{pool['id']}", "pool", "DELETED")
    assert (
        portus_module.client.get(f"/v2/lbaas/healthmonitors/{pool['healthmonitor_id']}").status_code
        == 404
    )
    assert portus_module.client.get(f"{POOLS}/{pool['id']}/members/{member_id}").status_code == 404
    shown = portus_module.client.get(f"{LISTENERS}/{li['id']}").json()["listener"]
    assert shown["default_pool_id"] is None
    assert portus_module.wait_lb(lb["id"])["pools"] == []


def test_delete_refused_while_an_l7_policy_redirects_to_it(portus_module: Portus) -> None:
    lb = portus_module.create_lb()
    li = post_listener(portus_module, lb["id"])
    pool = post_pool(portus_module, loadbalancer_id=lb["id"]).json()["pool"]
    r = portus_module.client.post(
        "/v2/lbaas/l7policies",
        json={
            "l7policy": {
                "listener_id": li["id"],
                "action": "REDIRECT_TO_POOL",
                "redirect_pool_id": pool["id"],
            }
        },
    )
    assert r.status_code == 201, r.text
    policy = r.json()["l7policy"]
    shown = portus_module.client.get(f"{POOLS}/{pool['id']}").json()["pool"]
    assert shown["listeners"] == [{"id": li["id"]}]
    r = portus_module.client.delete(f"{POOLS}/{pool['id']}")
    assert r.status_code == 409
    assert fault(r) == f"Pool {pool['id']} is in use by L7 policy {policy['id']}"


def test_list_and_quota(portus: Portus) -> None:
    lb = portus.create_lb()
    assert (
        portus.client.put("/v2/lbaas/quotas/admin", json={"quota": {"pool": 2}}).status_code == 202
    )
    for name in ("b", "a"):
        assert post_pool(portus, loadbalancer_id=lb["id"], name=name).status_code == 201
    r = post_pool(portus, loadbalancer_id=lb["id"])
    assert r.status_code == 403 and fault(r) == "Quota has been met for resources: Pool"
    got = portus.client.get(POOLS, params={"loadbalancer_id": lb["id"], "sort": "name"}).json()
    assert [p["name"] for p in got["pools"]] == ["a", "b"]
    assert got["pools_links"] == []
    only = portus.client.get(POOLS, params={"fields": "name,protocol", "name": "a"}).json()
    assert only["pools"] == [{"name": "a", "protocol": "HTTP"}]


def cli(portus: Portus, *args: str, output: bool = True) -> Any:
    cmd = [".venv/bin/openstack", "--os-auth-type", "none", "--os-endpoint", portus.url]
    cmd += ["loadbalancer", *args] + (["-f", "json"] if output else [])
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout) if output and r.stdout.strip() else None


@pytest.mark.slow  # each openstack CLI call starts a Python interpreter (~2 s)
def test_openstack_cli_pool_lifecycle(portus_module: Portus) -> None:
    lb = portus_module.create_lb(name="cli-pools")
    pool = cli(
        portus_module,
        "pool",
        "create",
        "--name",
        "web",
        "--loadbalancer",
        lb["id"],
        "--protocol",
        "HTTP",
        "--lb-algorithm",
        "LEAST_CONNECTIONS",
        "--session-persistence",
        "type=APP_COOKIE,cookie_name=sid",
    )
    assert pool["lb_algorithm"] == "LEAST_CONNECTIONS"
    portus_module.wait_for(f"{POOLS}/{pool['id']}", "pool")
    assert [p["name"] for p in cli(portus_module, "pool", "list", "--loadbalancer", lb["id"])] == [
        "web"
    ]
    cli(
        portus_module,
        "pool",
        "set",
        "--name",
        "web2",
        "--lb-algorithm",
        "SOURCE_IP",
        "--description",
        "d",
        pool["id"],
        output=False,
    )
    portus_module.wait_for(f"{POOLS}/{pool['id']}", "pool")
    shown = cli(portus_module, "pool", "show", "web2")
    assert shown["lb_algorithm"] == "SOURCE_IP" and shown["description"] == "d"
    cli(portus_module, "pool", "unset", "--description", "--name", pool["id"], output=False)
    shown = cli(portus_module, "pool", "show", pool["id"])
    assert shown["description"] == "" and shown["name"] == ""
    portus_module.wait_for(f"{POOLS}/{pool['id']}", "pool")
    cli(portus_module, "pool", "delete", pool["id"], output=False)
    portus_module.wait_for(f"{POOLS}/{pool['id']}", "pool", "DELETED")
