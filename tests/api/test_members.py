"""Members (single and batch) through the HTTP API, the openstack CLI and openstacksdk."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import openstack
import pytest

from tests.support.osc import fault
from tests.support.portus_app import Portus

POOLS = "/v2/lbaas/pools"


def make_pool(portus: Portus, **fields: Any) -> dict[str, Any]:
    lb = portus.create_lb()
    body = {"loadbalancer_id": lb["id"], "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}
    r = portus.client.post(POOLS, json={"pool": {**body, **fields}})
    assert r.status_code == 201, r.text
    return dict(portus.wait_for(f"{POOLS}/{r.json()['pool']['id']}", "pool"))


def post_member(portus: Portus, pool_id: str, **fields: Any) -> Any:
    body = {"address": "192.0.2.1", "protocol_port": 80, **fields}
    return portus.client.post(f"{POOLS}/{pool_id}/members", json={"member": body})


def test_create_defaults_and_active(portus_module: Portus) -> None:
    pool = make_pool(portus_module)
    r = post_member(portus_module, pool["id"], name="m1")
    assert r.status_code == 201, r.text
    m = r.json()["member"]
    assert "pool_id" not in m
    assert m["weight"] == 1 and m["backup"] is False and m["admin_state_up"] is True
    assert m["monitor_address"] is None and m["monitor_port"] is None
    assert m["operating_status"] == "NO_MONITOR"
    assert m["provisioning_status"] == "PENDING_CREATE"
    assert m["tenant_id"] == m["project_id"]
    done = portus_module.wait_for(f"{POOLS}/{pool['id']}/members/{m['id']}", "member")
    assert done["operating_status"] == "NO_MONITOR"


def test_initial_status_offline_under_a_monitor(portus_module: Portus) -> None:
    pool = make_pool(
        portus_module, healthmonitor={"type": "TCP", "delay": 5, "timeout": 3, "max_retries": 2}
    )
    m = post_member(portus_module, pool["id"]).json()["member"]
    assert m["operating_status"] == "OFFLINE"


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        (
            {"address": "169.254.169.254"},
            "169.254.169.254 is not a valid option for member address",
        ),
        ({"weight": 257}, "Value should be lower or equal to 256"),
        ({"weight": -1}, "Value should be greater or equal to 0"),
        ({"address": "not-an-ip"}, "Invalid input for field/attribute address."),
        ({"address": None}, "Invalid input for field/attribute address."),
        ({"protocol_port": 0}, "Invalid input for field/attribute protocol_port."),
        ({"monitor_port": 70000}, "Invalid input for field/attribute monitor_port."),
        ({"bogus": "x"}, "Unknown attribute for argument member: bogus"),
    ],
)
def test_create_refused(portus_module: Portus, fields: dict[str, Any], needle: str) -> None:
    pool = make_pool(portus_module)
    r = post_member(portus_module, pool["id"], **fields)
    assert r.status_code == 400
    assert needle in fault(r)


def test_missing_address_is_mandatory(portus_module: Portus) -> None:
    pool = make_pool(portus_module)
    r = portus_module.client.post(
        f"{POOLS}/{pool['id']}/members", json={"member": {"protocol_port": 80}}
    )
    assert r.status_code == 400
    assert fault(r) == (
        "Invalid input for field/attribute address. Value: 'None'. Mandatory field missing."
    )


def test_duplicates_and_foreign_members(portus_module: Portus) -> None:
    pool = make_pool(portus_module)
    other = make_pool(portus_module)
    m = post_member(portus_module, pool["id"]).json()["member"]
    r = post_member(portus_module, pool["id"])
    assert r.status_code == 409
    assert fault(r) == (
        "Another member on this pool is already using ip 192.0.2.1 on protocol_port 80"
    )
    assert post_member(portus_module, pool["id"], protocol_port=81).status_code == 201
    r = portus_module.client.get(f"{POOLS}/{other['id']}/members/{m['id']}")
    assert r.status_code == 404 and fault(r) == f"Member {m['id']} not found."
    missing = "00000000-0000-0000-0000-000000000003"
    assert portus_module.client.get(f"{POOLS}/{missing}/members").status_code == 404


def test_update_and_delete(portus_module: Portus) -> None:
    pool = make_pool(portus_module)
    m = post_member(portus_module, pool["id"], weight=5, backup=True).json()["member"]
    url = f"{POOLS}/{pool['id']}/members/{m['id']}"
    r = portus_module.client.put(
        url,
        json={
            "member": {
                "weight": None,
                "backup": None,
                "monitor_address": "192.0.2.99",
                "monitor_port": 8080,
                "name": "n",
            }
        },
    )
    assert r.status_code == 200, r.text
    got = r.json()["member"]
    assert (got["weight"], got["backup"], got["name"]) == (1, False, "n")
    assert (got["monitor_address"], got["monitor_port"]) == ("192.0.2.99", 8080)
    r = portus_module.client.put(url, json={"member": {"address": "192.0.2.2"}})
    assert r.status_code == 400
    assert portus_module.wait_for(url, "member")["updated_at"] is not None
    assert portus_module.client.delete(url).status_code == 204
    portus_module.wait_for(url, "member", "DELETED")
    assert portus_module.client.delete(url).status_code == 404


def batch(portus: Portus, pool_id: str, members: list[dict[str, Any]], **params: str) -> Any:
    return portus.client.put(f"{POOLS}/{pool_id}/members", json={"members": members}, params=params)


def members_by_address(portus: Portus, pool_id: str) -> dict[tuple[str, int], dict[str, Any]]:
    got = portus.client.get(f"{POOLS}/{pool_id}/members").json()["members"]
    return {(m["address"], m["protocol_port"]): m for m in got}


def test_batch_update_creates_updates_and_deletes(portus_module: Portus) -> None:
    pool = make_pool(portus_module)
    pid = pool["id"]
    r = batch(
        portus_module,
        pid,
        [
            {"address": "192.0.2.1", "protocol_port": 80},
            {"address": "192.0.2.2", "protocol_port": 80},
        ],
    )
    assert r.status_code == 202 and r.content == b""
    portus_module.wait_for(f"{POOLS}/{pid}", "pool")
    before = members_by_address(portus_module, pid)
    portus_module.wait_lb(pool["loadbalancers"][0]["id"])
    r = batch(
        portus_module,
        pid,
        [
            {"address": "192.0.2.2", "protocol_port": 80, "weight": 7},
            {"address": "192.0.2.3", "protocol_port": 80},
        ],
    )
    assert r.status_code == 202
    now = members_by_address(portus_module, pid)
    assert now[("192.0.2.1", 80)]["provisioning_status"] == "PENDING_DELETE"
    assert now[("192.0.2.2", 80)]["provisioning_status"] == "PENDING_UPDATE"
    assert now[("192.0.2.2", 80)]["id"] == before[("192.0.2.2", 80)]["id"]
    assert now[("192.0.2.3", 80)]["provisioning_status"] == "PENDING_CREATE"
    portus_module.wait_lb(pool["loadbalancers"][0]["id"])
    after = members_by_address(portus_module, pid)
    assert sorted(after) == [("192.0.2.2", 80), ("192.0.2.3", 80)]
    assert after[("192.0.2.2", 80)]["weight"] == 7
    assert all(m["provisioning_status"] == "ACTIVE" for m in after.values())


def test_batch_additive_only_and_noop(portus_module: Portus) -> None:
    pool = make_pool(portus_module)
    pid, lb_id = pool["id"], pool["loadbalancers"][0]["id"]
    assert (
        batch(portus_module, pid, [{"address": "192.0.2.1", "protocol_port": 80}]).status_code
        == 202
    )
    portus_module.wait_lb(lb_id)
    r = batch(
        portus_module, pid, [{"address": "192.0.2.5", "protocol_port": 80}], additive_only="true"
    )
    assert r.status_code == 202
    portus_module.wait_lb(lb_id)
    assert sorted(members_by_address(portus_module, pid)) == [("192.0.2.1", 80), ("192.0.2.5", 80)]
    # The same set again changes nothing: the LB is not even queued.
    same = [
        {"address": "192.0.2.1", "protocol_port": 80},
        {"address": "192.0.2.5", "protocol_port": 80},
    ]
    assert batch(portus_module, pid, same).status_code == 202
    lb = portus_module.client.get(f"/v2/lbaas/loadbalancers/{lb_id}").json()["loadbalancer"]
    assert lb["provisioning_status"] == "ACTIVE"


def test_batch_refusals(portus: Portus) -> None:
    lb = portus.create_lb()
    body = {"loadbalancer_id": lb["id"], "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}
    pid = portus.client.post(POOLS, json={"pool": body}).json()["pool"]["id"]
    dup = [{"address": "192.0.2.1", "protocol_port": 80}] * 2
    r = batch(portus, pid, dup)
    assert r.status_code == 400 and "Duplicate member" in fault(r)
    r = batch(portus, pid, [{"address": "169.254.169.254", "protocol_port": 80}])
    assert r.status_code == 400
    assert (
        portus.client.put("/v2/lbaas/quotas/admin", json={"quota": {"member": 2}}).status_code
        == 202
    )
    three = [{"address": f"192.0.2.{i}", "protocol_port": 80} for i in (1, 2, 3)]
    r = batch(portus, pid, three)
    assert r.status_code == 403 and fault(r) == "Quota has been met for resources: Member"
    assert portus.client.get(f"{POOLS}/{pid}/members").json()["members"] == []
    assert batch(portus, pid, three[:2]).status_code == 202
    r = post_member(portus, pid, address="192.0.2.9")
    assert r.status_code == 403


def cli(portus: Portus, *args: str, output: bool = True) -> Any:
    cmd = [".venv/bin/openstack", "--os-auth-type", "none", "--os-endpoint", portus.url]
    cmd += ["loadbalancer", *args] + (["-f", "json"] if output else [])
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout) if output and r.stdout.strip() else None


@pytest.mark.slow  # each openstack CLI call starts a Python interpreter (~2 s)
def test_openstack_cli_member_lifecycle(portus_module: Portus) -> None:
    pool = make_pool(portus_module)
    m = cli(
        portus_module,
        "member",
        "create",
        "--name",
        "m",
        "--address",
        "192.0.2.20",
        "--protocol-port",
        "8080",
        "--weight",
        "3",
        pool["id"],
    )
    assert m["weight"] == 3 and m["operating_status"] == "NO_MONITOR"
    url = f"{POOLS}/{pool['id']}/members/{m['id']}"
    portus_module.wait_for(url, "member")
    listed = cli(portus_module, "member", "list", pool["id"])
    assert [x["address"] for x in listed] == ["192.0.2.20"]
    cli(
        portus_module,
        "member",
        "set",
        "--weight",
        "9",
        "--enable-backup",
        pool["id"],
        "m",
        output=False,
    )
    portus_module.wait_for(url, "member")
    shown = cli(portus_module, "member", "show", pool["id"], m["id"])
    assert shown["weight"] == 9 and shown["backup"] is True
    cli(portus_module, "member", "unset", "--weight", "--backup", pool["id"], m["id"], output=False)
    shown = cli(portus_module, "member", "show", pool["id"], m["id"])
    assert shown["weight"] == 1 and shown["backup"] is False
    portus_module.wait_for(url, "member")
    cli(portus_module, "member", "delete", pool["id"], m["id"], output=False)
    portus_module.wait_for(url, "member", "DELETED")


def test_openstacksdk_listener_pool_member_round_trip(portus_module: Portus) -> None:
    lb = portus_module.create_lb()
    conn = openstack.connection.Connection(
        auth_type="none", load_balancer_endpoint_override=portus_module.url + "/"
    )
    try:
        lbaas = conn.load_balancer
        listener = lbaas.create_listener(
            load_balancer_id=lb["id"], protocol="TCP", protocol_port=22, name="ssh"
        )
        portus_module.wait_lb(lb["id"])
        pool = lbaas.create_pool(
            listener_id=listener.id, protocol="TCP", lb_algorithm="SOURCE_IP", name="ssh-pool"
        )
        portus_module.wait_lb(lb["id"])
        member = lbaas.create_member(pool, address="192.0.2.30", protocol_port=22, weight=2)
        portus_module.wait_lb(lb["id"])
        assert lbaas.get_listener(listener.id).default_pool_id == pool.id
        assert [m.address for m in lbaas.members(pool)] == ["192.0.2.30"]
        lbaas.update_member(member, pool, weight=0)
        portus_module.wait_lb(lb["id"])
        assert lbaas.get_member(member, pool).weight == 0
        assert lbaas.get_pool(pool.id).members == [{"id": member.id}]
        lbaas.delete_member(member, pool)
        lbaas.delete_pool(pool)
        lbaas.delete_listener(listener)
        portus_module.wait_lb(lb["id"])
        assert list(lbaas.listeners(load_balancer_id=lb["id"])) == []
    finally:
        conn.close()
