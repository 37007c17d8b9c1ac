"""Health monitors through the HTTP API (and the openstack CLI): what a client sees."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.osc import fault, openstack
from tests.support.portus_app import Portus

HMS = "/v2/lbaas/healthmonitors"
POOLS = "/v2/lbaas/pools"


def make_pool(portus: Portus, lb_id: str, protocol: str = "HTTP", **extra: Any) -> dict[str, Any]:
    body = {"loadbalancer_id": lb_id, "protocol": protocol, "lb_algorithm": "ROUND_ROBIN", **extra}
    r = portus.client.post(POOLS, json={"pool": body})
    assert r.status_code == 201, r.text
    return r.json()["pool"]  # type: ignore[no-any-return]


def post_hm(portus: Portus, pool_id: str, **fields: Any) -> Any:
    body = {"pool_id": pool_id, "type": "HTTP", "delay": 5, "timeout": 3, "max_retries": 2}
    body.update(fields)
    return portus.client.post(HMS, json={"healthmonitor": body})


@pytest.fixture(scope="module")
def lb(portus_module: Portus) -> dict[str, Any]:
    return portus_module.create_lb(name="hm-tests")


def test_create_http_defaults_and_active(portus_module: Portus, lb: dict[str, Any]) -> None:
    p = portus_module
    pool = make_pool(p, lb["id"])
    r = post_hm(p, pool["id"], name="web-check")
    assert r.status_code == 201, r.text
    hm = r.json()["healthmonitor"]
    assert hm["provisioning_status"] == "PENDING_CREATE"
    assert hm["max_retries_down"] == 3
    assert (hm["http_method"], hm["url_path"], hm["expected_codes"]) == ("GET", "/", "200")
    assert hm["http_version"] is None and hm["domain_name"] is None
    assert hm["pools"] == [{"id": pool["id"]}]
    assert hm["tenant_id"] == hm["project_id"] == lb["project_id"]
    hm = p.wait_for(f"{HMS}/{hm['id']}", "healthmonitor")
    assert hm["operating_status"] == "ONLINE"
    assert p.client.get(f"{POOLS}/{pool['id']}").json()["pool"]["healthmonitor_id"] == hm["id"]


def test_one_monitor_per_pool(portus_module: Portus, lb: dict[str, Any]) -> None:
    pool = make_pool(portus_module, lb["id"])
    assert post_hm(portus_module, pool["id"]).status_code == 201
    r = post_hm(portus_module, pool["id"], type="TCP")
    assert r.status_code == 409
    assert fault(r) == "This pool already has a health monitor"


def test_non_http_types_take_no_http_fields(portus_module: Portus, lb: dict[str, Any]) -> None:
    pool = make_pool(portus_module, lb["id"], protocol="TCP")
    r = post_hm(portus_module, pool["id"], type="TCP", url_path="/health")
    assert r.status_code == 400
    assert fault(r) == "url_path is not a valid option for health monitors of type TCP"
    r = post_hm(portus_module, pool["id"], type="PING")
    assert r.status_code == 201
    hm = r.json()["healthmonitor"]
    assert (hm["http_method"], hm["url_path"], hm["expected_codes"]) == (None, None, None)
    r = portus_module.client.put(
        f"{HMS}/{hm['id']}", json={"healthmonitor": {"http_method": "GET"}}
    )
    assert r.status_code == 400


@pytest.mark.parametrize(
    ("pool_protocol", "hm_type", "ok"),
    [
        ("UDP", "UDP-CONNECT", True),
        ("UDP", "HTTP", True),
        ("UDP", "TCP", True),
        ("UDP", "HTTPS", False),
        ("UDP", "PING", False),
        ("SCTP", "SCTP", True),
        ("TCP", "UDP-CONNECT", False),
        ("HTTP", "SCTP", False),
        ("HTTPS", "TLS-HELLO", True),
    ],
)
def test_type_must_fit_pool_protocol(
    portus_module: Portus, lb: dict[str, Any], pool_protocol: str, hm_type: str, ok: bool
) -> None:
    pool = make_pool(portus_module, lb["id"], protocol=pool_protocol)
    r = post_hm(portus_module, pool["id"], type=hm_type)
    assert r.status_code == (201 if ok else 400), r.text
    if not ok:
        assert fault(r).startswith("Validation failure:")


def test_udp_connect_delay_at_least_three(portus_module: Portus, lb: dict[str, Any]) -> None:
    pool = make_pool(portus_module, lb["id"], protocol="UDP")
    r = post_hm(portus_module, pool["id"], type="UDP-CONNECT", delay=2)
    assert r.status_code == 400
    assert "UDP-CONNECT" in fault(r)
    r = post_hm(portus_module, pool["id"], type="UDP-CONNECT", delay=3)
    assert r.status_code == 201
    hm_id = r.json()["healthmonitor"]["id"]
    r = portus_module.client.put(f"{HMS}/{hm_id}", json={"healthmonitor": {"delay": 1}})
    assert r.status_code == 400


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"expected_codes": "2000"}, "expected_codes"),
        ({"expected_codes": "200-"}, "expected_codes"),
        ({"url_path": "health"}, "url_path"),
        ({"url_path": "http://example.com/health"}, "url_path"),
        ({"url_path": "/a b"}, "url_path"),
        ({"http_version": 2.0}, "http_version"),
        ({"domain_name": "-bad-.example"}, "domain_name"),
        ({"http_method": "FETCH"}, "http_method"),
        ({"max_retries": 11}, "max_retries"),
        ({"max_retries_down": 0}, "max_retries_down"),
        ({"delay": -1}, "delay"),
    ],
)
def test_field_validation(
    portus_module: Portus, lb: dict[str, Any], fields: dict[str, Any], field: str
) -> None:
    pool = make_pool(portus_module, lb["id"])
    r = post_hm(portus_module, pool["id"], **fields)
    assert r.status_code == 400, r.text
    assert fault(r).startswith(f"Invalid input for field/attribute {field}.")


def test_good_http_settings_and_domain_name_needs_http_11(
    portus_module: Portus, lb: dict[str, Any]
) -> None:
    pool = make_pool(portus_module, lb["id"])
    r = post_hm(portus_module, pool["id"], domain_name="app.example.com", http_version=1.0)
    assert r.status_code == 400
    assert "http_version 1.1" in fault(r)
    r = post_hm(
        portus_module,
        pool["id"],
        domain_name="app.example.com",
        http_version=1.1,
        expected_codes="200-204",
        url_path="/health?full=1",
        http_method="HEAD",
    )
    assert r.status_code == 201, r.text
    hm = r.json()["healthmonitor"]
    assert (hm["http_version"], hm["domain_name"]) == (1.1, "app.example.com")
    assert (hm["expected_codes"], hm["url_path"], hm["http_method"]) == (
        "200-204",
        "/health?full=1",
        "HEAD",
    )


def test_missing_or_unknown_pool(portus_module: Portus) -> None:
    r = portus_module.client.post(
        HMS, json={"healthmonitor": {"type": "TCP", "delay": 1, "timeout": 1, "max_retries": 1}}
    )
    assert r.status_code == 400
    assert "pool_id" in fault(r)
    r = post_hm(portus_module, "8a1d4b8e-0000-4000-8000-000000000000")
    assert r.status_code == 404


def test_update_null_rules(portus_module: Portus, lb: dict[str, Any]) -> None:
    p = portus_module
    pool = make_pool(p, lb["id"])
    hm = post_hm(p, pool["id"], max_retries_down=5, url_path="/x", expected_codes="201").json()
    url = f"{HMS}/{hm['healthmonitor']['id']}"
    for name in ("delay", "timeout", "max_retries"):
        r = p.client.put(url, json={"healthmonitor": {name: None}})
        assert r.status_code == 400
        assert fault(r) == f"None is not a valid option for {name}"
    r = p.client.put(
        url,
        json={
            "healthmonitor": {
                "max_retries_down": None,
                "url_path": None,
                "expected_codes": None,
                "name": "renamed",
                "delay": 9,
            }
        },
    )
    assert r.status_code == 200, r.text
    got = r.json()["healthmonitor"]
    assert got["provisioning_status"] in ("PENDING_CREATE", "PENDING_UPDATE")
    assert (got["max_retries_down"], got["url_path"], got["expected_codes"]) == (3, "/", "200")
    assert (got["name"], got["delay"]) == ("renamed", 9)
    assert p.client.put(url, json={"healthmonitor": {"type": "TCP"}}).status_code == 400
    assert p.wait_for(url, "healthmonitor")["delay"] == 9


def _pool_with_member(portus: Portus) -> tuple[dict[str, Any], dict[str, Any], str]:
    lb = portus.create_lb()
    pool = make_pool(portus, lb["id"])
    members = f"{POOLS}/{pool['id']}/members"
    r = portus.client.post(members, json={"member": {"address": "192.0.2.10", "protocol_port": 80}})
    assert r.status_code == 201, r.text
    member_url = f"{members}/{r.json()['member']['id']}"
    assert portus.wait_for(member_url, "member")["operating_status"] == "NO_MONITOR"
    return lb, pool, member_url


def test_members_go_offline_under_a_monitor(portus: Portus) -> None:
    """noop: with a monitor, members are OFFLINE (nothing observes them) instead of NO_MONITOR."""
    lb, pool, member_url = _pool_with_member(portus)
    hm = post_hm(portus, pool["id"]).json()["healthmonitor"]
    portus.wait_for(f"{HMS}/{hm['id']}", "healthmonitor")
    portus.wait_lb(lb["id"])
    assert portus.client.get(member_url).json()["member"]["operating_status"] == "OFFLINE"


def test_deleting_the_monitor_sets_members_back_to_no_monitor(portus: Portus) -> None:
    lb, pool, member_url = _pool_with_member(portus)
    hm = post_hm(portus, pool["id"]).json()["healthmonitor"]
    portus.wait_for(f"{HMS}/{hm['id']}", "healthmonitor")
    assert portus.client.delete(f"{HMS}/{hm['id']}").status_code == 204
    portus.wait_for(f"{HMS}/{hm['id']}", "healthmonitor", "DELETED")
    portus.wait_lb(lb["id"])
    assert portus.client.get(f"{POOLS}/{pool['id']}").json()["pool"]["healthmonitor_id"] is None
    assert post_hm(portus, pool["id"], type="TCP").status_code == 201
    portus.wait_lb(lb["id"])
    assert portus.client.delete(f"{HMS}/{hm['id']}").status_code == 404
    hm2 = portus.client.get(HMS, params={"pool_id": pool["id"]}).json()["healthmonitors"][0]
    assert portus.client.delete(f"{HMS}/{hm2['id']}").status_code == 204
    portus.wait_for(f"{HMS}/{hm2['id']}", "healthmonitor", "DELETED")
    portus.wait_lb(lb["id"])
    assert portus.client.get(member_url).json()["member"]["operating_status"] == "NO_MONITOR"


def test_list_filters_fields_and_project_scope(portus: Portus) -> None:
    lb = portus.create_lb()
    for kind, protocol in (("HTTP", "HTTP"), ("TCP", "TCP"), ("PING", "HTTP")):
        pool = make_pool(portus, lb["id"], protocol=protocol)
        assert (
            post_hm(portus, pool["id"], type=kind, name=f"m-{kind}", tags=[kind]).status_code == 201
        )
    got = portus.client.get(HMS, params={"type": "TCP"}).json()
    assert [h["name"] for h in got["healthmonitors"]] == ["m-TCP"]
    assert got["healthmonitors_links"] == []
    got = portus.client.get(HMS, params={"fields": "name", "sort": "name:desc"}).json()
    assert got["healthmonitors"] == [{"name": "m-TCP"}, {"name": "m-PING"}, {"name": "m-HTTP"}]
    assert len(portus.client.get(HMS, params={"tags": "PING"}).json()["healthmonitors"]) == 1
    page = portus.client.get(HMS, params={"limit": 2}).json()
    assert len(page["healthmonitors"]) == 2 and page["healthmonitors_links"][0]["rel"] == "next"
    other = {"X-Project-Id": "someone-else", "X-Roles": "member"}
    assert portus.client.get(HMS, headers=other).json()["healthmonitors"] == []
    hm_id = portus.client.get(HMS).json()["healthmonitors"][0]["id"]
    assert portus.client.get(f"{HMS}/{hm_id}", headers=other).status_code == 403
    assert portus.client.delete(f"{HMS}/{hm_id}", headers=other).status_code == 403


def test_quota(portus: Portus) -> None:
    lb = portus.create_lb()
    project = lb["project_id"]
    r = portus.client.put(f"/v2/lbaas/quotas/{project}", json={"quota": {"healthmonitor": 1}})
    assert r.status_code == 202
    assert post_hm(portus, make_pool(portus, lb["id"])["id"]).status_code == 201
    r = post_hm(portus, make_pool(portus, lb["id"])["id"])
    assert r.status_code == 403
    assert fault(r) == "Quota has been met for resources: Health Monitor"


def test_openstack_cli(portus: Portus) -> None:
    lb = portus.create_lb()
    pool = make_pool(portus, lb["id"])
    hm = openstack(
        portus,
        "healthmonitor",
        "create",
        "--name",
        "cli",
        "--delay",
        "5",
        "--timeout",
        "3",
        "--max-retries",
        "2",
        "--type",
        "HTTP",
        "--url-path",
        "/ping",
        pool["id"],
        "-f",
        "json",
    )
    assert hm["name"] == "cli" and hm["url_path"] == "/ping"
    portus.wait_for(f"{HMS}/{hm['id']}", "healthmonitor")
    listed = openstack(portus, "healthmonitor", "list", "-f", "json")
    assert [x["id"] for x in listed] == [hm["id"]]
    openstack(
        portus,
        "healthmonitor",
        "set",
        "--delay",
        "7",
        "--domain-name",
        "a.example",
        "--http-version",
        "1.1",
        hm["id"],
    )
    shown = openstack(portus, "healthmonitor", "show", hm["id"], "-f", "json")
    assert (shown["delay"], shown["domain_name"], shown["http_version"]) == (7, "a.example", 1.1)
    openstack(portus, "healthmonitor", "unset", "--domain-name", "--http-version", hm["id"])
    shown = openstack(portus, "healthmonitor", "show", hm["id"], "-f", "json")
    assert shown["domain_name"] is None
    openstack(portus, "healthmonitor", "delete", hm["id"])
    portus.wait_for(f"{HMS}/{hm['id']}", "healthmonitor", "DELETED")
