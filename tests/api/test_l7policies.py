"""L7 policies through the HTTP API (and the openstack CLI): what a client sees."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from tests.support.osc import fault, openstack
from tests.support.portus_app import Portus

POLICIES = "/v2/lbaas/l7policies"
LISTENERS = "/v2/lbaas/listeners"
POOLS = "/v2/lbaas/pools"
PORTS = itertools.count(8000)


def make_listener(portus: Portus, lb_id: str, protocol: str = "HTTP") -> dict[str, Any]:
    body: dict[str, Any] = {
        "loadbalancer_id": lb_id,
        "protocol": protocol,
        "protocol_port": next(PORTS),
    }
    r = portus.client.post(LISTENERS, json={"listener": body})
    assert r.status_code == 201, r.text
    return r.json()["listener"]  # type: ignore[no-any-return]


def make_pool(portus: Portus, lb_id: str, protocol: str = "HTTP") -> dict[str, Any]:
    body = {"loadbalancer_id": lb_id, "protocol": protocol, "lb_algorithm": "ROUND_ROBIN"}
    r = portus.client.post(POOLS, json={"pool": body})
    assert r.status_code == 201, r.text
    return r.json()["pool"]  # type: ignore[no-any-return]


def post_policy(portus: Portus, listener_id: str, **fields: Any) -> Any:
    body = {"listener_id": listener_id, "action": "REJECT", **fields}
    return portus.client.post(POLICIES, json={"l7policy": body})


def positions(portus: Portus, listener_id: str) -> list[tuple[str, int]]:
    got = portus.client.get(POLICIES, params={"listener_id": listener_id, "sort": "position"})
    live = [p for p in got.json()["l7policies"] if p["provisioning_status"] != "PENDING_DELETE"]
    return [(p["name"], p["position"]) for p in live]


@pytest.fixture(scope="module")
def lb(portus_module: Portus) -> dict[str, Any]:
    return portus_module.create_lb(name="l7-tests")


@pytest.fixture
def listener(portus_module: Portus, lb: dict[str, Any]) -> dict[str, Any]:
    return make_listener(portus_module, lb["id"])


def test_reject_defaults_and_active(portus_module: Portus, listener: dict[str, Any]) -> None:
    r = post_policy(portus_module, listener["id"], redirect_http_code=301)
    assert r.status_code == 201, r.text
    policy = r.json()["l7policy"]
    assert policy["provisioning_status"] == "PENDING_CREATE"
    assert (policy["position"], policy["redirect_http_code"], policy["rules"]) == (1, None, [])
    assert policy["name"] == "" and policy["description"] == ""
    assert policy["listener_id"] == listener["id"]
    assert policy["tenant_id"] == policy["project_id"]
    policy = portus_module.wait_for(f"{POLICIES}/{policy['id']}", "l7policy")
    assert policy["operating_status"] == "ONLINE"
    got = portus_module.client.get(f"{LISTENERS}/{listener['id']}").json()["listener"]
    assert got["l7policies"] == [{"id": policy["id"]}]


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"action": "REDIRECT_TO_URL", "redirect_url": "https://example.com/x"}, 302),
        ({"action": "REDIRECT_PREFIX", "redirect_prefix": "https://example.com"}, 302),
        (
            {
                "action": "REDIRECT_TO_URL",
                "redirect_url": "http://example.com",
                "redirect_http_code": 308,
            },
            308,
        ),
    ],
)
def test_redirect_code_defaults(
    portus_module: Portus, listener: dict[str, Any], fields: dict[str, Any], code: int
) -> None:
    r = post_policy(portus_module, listener["id"], **fields)
    assert r.status_code == 201, r.text
    assert r.json()["l7policy"]["redirect_http_code"] == code


@pytest.mark.parametrize(
    "fields",
    [
        {"action": "REDIRECT_TO_URL"},
        {"action": "REDIRECT_PREFIX"},
        {"action": "REDIRECT_TO_POOL"},
        {"action": "REDIRECT_TO_URL", "redirect_url": "ftp://example.com"},
        {"action": "REDIRECT_TO_URL", "redirect_url": "not a url"},
        {"action": "REDIRECT_TO_URL", "redirect_url": "http://a", "redirect_prefix": "http://b"},
        {"action": "REJECT", "redirect_url": "http://a"},
        {"action": "REJECT", "redirect_http_code": 304},
        {"action": "DENY"},
        {"action": "REJECT", "position": 0},
    ],
)
def test_required_and_invalid_fields(
    portus_module: Portus, listener: dict[str, Any], fields: dict[str, Any]
) -> None:
    r = post_policy(portus_module, listener["id"], **fields)
    assert r.status_code == 400, r.text


def test_listener_protocol(portus_module: Portus, lb: dict[str, Any]) -> None:
    for protocol in ("TCP", "HTTPS", "UDP"):
        listener = make_listener(portus_module, lb["id"], protocol)
        r = post_policy(portus_module, listener["id"])
        assert r.status_code == 400
        assert "HTTP or TERMINATED_HTTPS" in fault(r)
    prom = make_listener(portus_module, lb["id"], "PROMETHEUS")
    r = post_policy(portus_module, prom["id"])
    assert r.status_code == 400
    assert fault(r) == "Protocol PROMETHEUS listeners cannot have child objects."
    r = post_policy(portus_module, "9b0a2c11-0000-4000-8000-000000000000")
    assert r.status_code == 404


def test_redirect_to_pool_checks_the_pool(portus_module: Portus, lb: dict[str, Any]) -> None:
    listener = make_listener(portus_module, lb["id"])
    tcp_pool = make_pool(portus_module, lb["id"], "TCP")
    r = post_policy(
        portus_module, listener["id"], action="REDIRECT_TO_POOL", redirect_pool_id=tcp_pool["id"]
    )
    assert r.status_code == 400
    assert fault(r) == ("The pool protocol 'TCP' is invalid while the listener protocol is 'HTTP'.")
    other_lb = portus_module.create_lb()
    foreign = make_pool(portus_module, other_lb["id"])
    r = post_policy(
        portus_module, listener["id"], action="REDIRECT_TO_POOL", redirect_pool_id=foreign["id"]
    )
    assert r.status_code == 400
    pool = make_pool(portus_module, lb["id"])
    r = post_policy(
        portus_module, listener["id"], action="REDIRECT_TO_POOL", redirect_pool_id=pool["id"]
    )
    assert r.status_code == 201
    assert r.json()["l7policy"]["redirect_pool_id"] == pool["id"]


def test_setting_a_target_implies_the_action(
    portus_module: Portus, lb: dict[str, Any], listener: dict[str, Any]
) -> None:
    p = portus_module
    pool = make_pool(p, lb["id"])
    policy = post_policy(p, listener["id"]).json()["l7policy"]
    url = f"{POLICIES}/{policy['id']}"
    got = p.client.put(url, json={"l7policy": {"redirect_url": "http://example.com"}}).json()
    got = got["l7policy"]
    assert (got["action"], got["redirect_url"], got["redirect_http_code"]) == (
        "REDIRECT_TO_URL",
        "http://example.com",
        302,
    )
    got = p.client.put(url, json={"l7policy": {"redirect_pool_id": pool["id"]}}).json()
    got = got["l7policy"]
    assert (got["action"], got["redirect_url"], got["redirect_pool_id"]) == (
        "REDIRECT_TO_POOL",
        None,
        pool["id"],
    )
    assert got["redirect_http_code"] is None
    got = p.client.put(
        url, json={"l7policy": {"redirect_prefix": "https://x.example", "redirect_http_code": 301}}
    ).json()["l7policy"]
    assert (got["action"], got["redirect_pool_id"], got["redirect_http_code"]) == (
        "REDIRECT_PREFIX",
        None,
        301,
    )
    r = p.client.put(url, json={"l7policy": {"action": "REDIRECT_TO_URL"}})
    assert r.status_code == 400
    assert "redirect_url" in fault(r)
    r = p.client.put(url, json={"l7policy": {"action": None}})
    assert r.status_code == 400
    got = p.client.put(url, json={"l7policy": {"action": "REJECT"}}).json()["l7policy"]
    assert (got["redirect_prefix"], got["redirect_http_code"]) == (None, None)
    assert p.wait_for(url, "l7policy")["action"] == "REJECT"


def test_positions_are_contiguous(portus_module: Portus, listener: dict[str, Any]) -> None:
    p = portus_module
    ids = {}
    for name in ("a", "b", "c"):
        ids[name] = post_policy(p, listener["id"], name=name).json()["l7policy"]["id"]
    assert positions(p, listener["id"]) == [("a", 1), ("b", 2), ("c", 3)]
    r = post_policy(p, listener["id"], name="first", position=1)
    assert r.json()["l7policy"]["position"] == 1
    assert positions(p, listener["id"]) == [("first", 1), ("a", 2), ("b", 3), ("c", 4)]
    r = post_policy(p, listener["id"], name="far", position=99)
    assert r.json()["l7policy"]["position"] == 5
    p.client.put(f"{POLICIES}/{ids['c']}", json={"l7policy": {"position": 2}})
    assert positions(p, listener["id"]) == [("first", 1), ("c", 2), ("a", 3), ("b", 4), ("far", 5)]
    assert p.client.delete(f"{POLICIES}/{ids['a']}").status_code == 204
    assert positions(p, listener["id"]) == [("first", 1), ("c", 2), ("b", 3), ("far", 4)]
    p.wait_for(f"{POLICIES}/{ids['a']}", "l7policy", "DELETED")
    assert positions(p, listener["id"]) == [("first", 1), ("c", 2), ("b", 3), ("far", 4)]


def test_create_with_rules_and_delete_cascades(
    portus_module: Portus, listener: dict[str, Any]
) -> None:
    p = portus_module
    rules = [
        {"type": "PATH", "compare_type": "STARTS_WITH", "value": "/api"},
        {"type": "HEADER", "compare_type": "EQUAL_TO", "key": "X-Env", "value": "prod"},
    ]
    r = post_policy(p, listener["id"], rules=rules)
    assert r.status_code == 201, r.text
    policy = r.json()["l7policy"]
    assert len(policy["rules"]) == 2
    p.wait_for(f"{POLICIES}/{policy['id']}", "l7policy")
    rule_url = f"{POLICIES}/{policy['id']}/rules/{policy['rules'][0]['id']}"
    assert p.client.get(rule_url).json()["rule"]["provisioning_status"] == "ACTIVE"
    bad = post_policy(
        p, listener["id"], rules=[{"type": "HEADER", "compare_type": "EQUAL_TO", "value": "x"}]
    )
    assert bad.status_code == 400
    assert fault(bad).startswith("Error parsing L7Rule: Invalid L7 Rule:")
    assert p.client.delete(f"{POLICIES}/{policy['id']}").status_code == 204
    p.wait_for(f"{POLICIES}/{policy['id']}", "l7policy", "DELETED")
    assert p.client.get(rule_url).status_code == 404


def test_update_and_list(portus_module: Portus, listener: dict[str, Any]) -> None:
    p = portus_module
    policy = post_policy(p, listener["id"], name="x", tags=["t1"]).json()["l7policy"]
    url = f"{POLICIES}/{policy['id']}"
    r = p.client.put(
        url, json={"l7policy": {"name": "y", "admin_state_up": False, "description": "d"}}
    )
    assert r.status_code == 200
    assert r.json()["l7policy"]["name"] == "y"
    got = p.wait_for(url, "l7policy")
    assert (got["admin_state_up"], got["operating_status"], got["description"]) == (
        False,
        "OFFLINE",
        "d",
    )
    assert p.client.put(url, json={"l7policy": {"listener_id": "x"}}).status_code == 400
    listed = p.client.get(POLICIES, params={"tags": "t1", "fields": "id"}).json()
    assert listed["l7policies"] == [{"id": policy["id"]}]
    assert p.client.get(POLICIES, params={"bogus": 1}).status_code == 400


def test_quota(portus: Portus) -> None:
    lb = portus.create_lb()
    listener = make_listener(portus, lb["id"])
    r = portus.client.put(
        f"/v2/lbaas/quotas/{lb['project_id']}", json={"quota": {"l7policy": 1, "l7rule": 1}}
    )
    assert r.status_code == 202
    assert post_policy(portus, listener["id"]).status_code == 201
    r = post_policy(portus, listener["id"])
    assert r.status_code == 403
    assert fault(r) == "Quota has been met for resources: L7 Policy"


def test_openstack_cli(portus: Portus) -> None:
    lb = portus.create_lb()
    listener = make_listener(portus, lb["id"])
    policy = openstack(
        portus,
        "l7policy",
        "create",
        "--name",
        "cli",
        "--action",
        "REDIRECT_TO_URL",
        "--redirect-url",
        "https://example.com/",
        listener["id"],
        "-f",
        "json",
    )
    assert policy["redirect_http_code"] == 302
    portus.wait_for(f"{POLICIES}/{policy['id']}", "l7policy")
    assert [x["id"] for x in openstack(portus, "l7policy", "list", "-f", "json")] == [policy["id"]]
    openstack(portus, "l7policy", "set", "--action", "REJECT", "--name", "renamed", policy["id"])
    shown = openstack(portus, "l7policy", "show", policy["id"], "-f", "json")
    assert (shown["action"], shown["name"], shown["redirect_url"]) == ("REJECT", "renamed", None)
    openstack(portus, "l7policy", "unset", "--name", policy["id"])
    assert openstack(portus, "l7policy", "show", policy["id"], "-f", "json")["name"] == ""
    openstack(portus, "l7policy", "delete", policy["id"])
    portus.wait_for(f"{POLICIES}/{policy['id']}", "l7policy", "DELETED")
