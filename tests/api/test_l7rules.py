"""L7 rules through the HTTP API (and the openstack CLI): envelope ``rule``/``rules``."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from tests.support.osc import fault, openstack
from tests.support.portus_app import Portus

POLICIES = "/v2/lbaas/l7policies"
PORTS = itertools.count(9000)
PREFIX = "Error parsing L7Rule: Invalid L7 Rule: "


def make_policy(portus: Portus, lb_id: str) -> dict[str, Any]:
    listener = {"loadbalancer_id": lb_id, "protocol": "HTTP", "protocol_port": next(PORTS)}
    r = portus.client.post("/v2/lbaas/listeners", json={"listener": listener})
    assert r.status_code == 201, r.text
    body = {"listener_id": r.json()["listener"]["id"], "action": "REJECT"}
    r = portus.client.post(POLICIES, json={"l7policy": body})
    assert r.status_code == 201, r.text
    return r.json()["l7policy"]  # type: ignore[no-any-return]


def rules_url(policy: dict[str, Any]) -> str:
    return f"{POLICIES}/{policy['id']}/rules"


def post_rule(portus: Portus, policy: dict[str, Any], **fields: Any) -> Any:
    body = {"type": "PATH", "compare_type": "STARTS_WITH", "value": "/api", **fields}
    return portus.client.post(rules_url(policy), json={"rule": body})


@pytest.fixture(scope="module")
def lb(portus_module: Portus) -> dict[str, Any]:
    return portus_module.create_lb(name="l7rule-tests")


@pytest.fixture
def policy(portus_module: Portus, lb: dict[str, Any]) -> dict[str, Any]:
    return make_policy(portus_module, lb["id"])


def test_create_show_list_envelopes(portus_module: Portus, policy: dict[str, Any]) -> None:
    p = portus_module
    r = post_rule(p, policy, tags=["a"])
    assert r.status_code == 201, r.text
    rule = r.json()["rule"]
    assert (rule["invert"], rule["key"], rule["admin_state_up"]) == (False, None, True)
    assert rule["provisioning_status"] == "PENDING_CREATE"
    assert rule["tenant_id"] == rule["project_id"]
    rule = p.wait_for(f"{rules_url(policy)}/{rule['id']}", "rule")
    assert rule["operating_status"] == "ONLINE"
    listed = p.client.get(rules_url(policy)).json()
    assert [x["id"] for x in listed["rules"]] == [rule["id"]] and listed["rules_links"] == []
    assert p.client.get(rules_url(policy), params={"fields": "type"}).json()["rules"] == [
        {"type": "PATH"}
    ]
    assert p.client.get(f"{POLICIES}/{policy['id']}").json()["l7policy"]["rules"] == [
        {"id": rule["id"]}
    ]


def test_rule_of_another_policy_is_404(
    portus_module: Portus, lb: dict[str, Any], policy: dict[str, Any]
) -> None:
    other = make_policy(portus_module, lb["id"])
    rule = post_rule(portus_module, policy).json()["rule"]
    assert portus_module.client.get(f"{rules_url(other)}/{rule['id']}").status_code == 404
    missing = f"{POLICIES}/5d0c9f7e-0000-4000-8000-000000000000/rules"
    assert portus_module.client.get(missing).status_code == 404
    assert portus_module.client.post(missing, json={"rule": {}}).status_code == 400


@pytest.mark.parametrize(
    "fields",
    [
        {"type": "HOST_NAME", "compare_type": "EQUAL_TO", "value": "www.example.com"},
        {"type": "PATH", "compare_type": "REGEX", "value": "^/api/v[0-9]+/"},
        {"type": "FILE_TYPE", "compare_type": "EQUAL_TO", "value": "jpg"},
        {"type": "HEADER", "compare_type": "CONTAINS", "key": "User-Agent", "value": "curl"},
        {"type": "HEADER", "compare_type": "EQUAL_TO", "key": "X-A", "value": '"a b"'},
        {"type": "COOKIE", "compare_type": "EQUAL_TO", "key": "session", "value": "abc123"},
        {"type": "SSL_CONN_HAS_CERT", "compare_type": "EQUAL_TO", "value": "TRUE"},
        {"type": "SSL_VERIFY_RESULT", "compare_type": "EQUAL_TO", "value": "0"},
        {"type": "SSL_DN_FIELD", "compare_type": "ENDS_WITH", "key": "CN", "value": "example"},
    ],
)
def test_valid_rules(portus_module: Portus, policy: dict[str, Any], fields: dict[str, Any]) -> None:
    r = post_rule(portus_module, policy, **fields)
    assert r.status_code == 201, r.text


@pytest.mark.parametrize(
    "fields",
    [
        {"type": "PATH", "compare_type": "REGEX", "value": "(unclosed"},
        {"type": "PATH", "compare_type": "EQUAL_TO", "value": "/a b"},
        {"type": "FILE_TYPE", "compare_type": "CONTAINS", "value": "jpg"},
        {"type": "HEADER", "compare_type": "EQUAL_TO", "value": "x"},
        {"type": "HEADER", "compare_type": "EQUAL_TO", "key": "Bad Name", "value": "x"},
        {"type": "COOKIE", "compare_type": "EQUAL_TO", "value": "x"},
        {"type": "COOKIE", "compare_type": "EQUAL_TO", "key": "c", "value": "a;b"},
        {"type": "SSL_CONN_HAS_CERT", "compare_type": "EQUAL_TO", "value": "yes"},
        {"type": "SSL_CONN_HAS_CERT", "compare_type": "CONTAINS", "value": "true"},
        {"type": "SSL_CONN_HAS_CERT", "compare_type": "EQUAL_TO", "key": "k", "value": "true"},
        {"type": "SSL_VERIFY_RESULT", "compare_type": "EQUAL_TO", "value": "-1"},
        {"type": "SSL_DN_FIELD", "compare_type": "EQUAL_TO", "value": "x"},
        {"type": "SSL_DN_FIELD", "compare_type": "EQUAL_TO", "key": "1CN", "value": "x"},
    ],
)
def test_invalid_rules(
    portus_module: Portus, policy: dict[str, Any], fields: dict[str, Any]
) -> None:
    r = post_rule(portus_module, policy, **fields)
    assert r.status_code == 400, r.text
    assert fault(r).startswith(PREFIX)


def test_schema_errors(portus_module: Portus, policy: dict[str, Any]) -> None:
    r = post_rule(portus_module, policy, type="QUERY")
    assert r.status_code == 400 and "Value should be one of" in fault(r)
    r = post_rule(portus_module, policy, value="a\nb")
    assert r.status_code == 400
    r = portus_module.client.post(
        rules_url(policy), json={"rule": {"type": "PATH", "compare_type": "EQUAL_TO"}}
    )
    assert r.status_code == 400 and "Mandatory field missing" in fault(r)


def test_update_validates_the_merged_rule(portus_module: Portus, policy: dict[str, Any]) -> None:
    p = portus_module
    rule = post_rule(p, policy).json()["rule"]
    url = f"{rules_url(policy)}/{rule['id']}"
    r = p.client.put(url, json={"rule": {"type": "HEADER"}})
    assert r.status_code == 400
    assert fault(r).startswith(PREFIX)
    r = p.client.put(url, json={"rule": {"type": "HEADER", "key": "X-Env", "invert": True}})
    assert r.status_code == 200, r.text
    got = r.json()["rule"]
    assert (got["type"], got["key"], got["value"], got["invert"]) == (
        "HEADER",
        "X-Env",
        "/api",
        True,
    )
    r = p.client.put(url, json={"rule": {"invert": None, "compare_type": "REGEX", "value": "["}})
    assert r.status_code == 400
    assert p.client.put(url, json={"rule": {"value": None}}).status_code == 400
    r = p.client.put(url, json={"rule": {"invert": None}})
    assert r.json()["rule"]["invert"] is False
    assert p.wait_for(url, "rule")["key"] == "X-Env"


def test_at_most_50_rules(portus_module: Portus, policy: dict[str, Any]) -> None:
    for i in range(50):
        assert post_rule(portus_module, policy, value=f"/p{i}").status_code == 201
    r = post_rule(portus_module, policy, value="/one-too-many")
    assert r.status_code == 409
    assert fault(r) == f"Too many rules on L7 policy {policy['id']}"


def test_delete(portus_module: Portus, policy: dict[str, Any]) -> None:
    rule = post_rule(portus_module, policy).json()["rule"]
    url = f"{rules_url(policy)}/{rule['id']}"
    assert portus_module.client.delete(url).status_code == 204
    portus_module.wait_for(url, "rule", "DELETED")
    assert portus_module.client.delete(url).status_code == 404


def test_quota(portus: Portus) -> None:
    lb = portus.create_lb()
    policy = make_policy(portus, lb["id"])
    r = portus.client.put(f"/v2/lbaas/quotas/{lb['project_id']}", json={"quota": {"l7rule": 1}})
    assert r.status_code == 202
    assert post_rule(portus, policy).status_code == 201
    r = post_rule(portus, policy)
    assert r.status_code == 403
    assert fault(r) == "Quota has been met for resources: L7 Rule"


def test_openstack_cli(portus: Portus) -> None:
    lb = portus.create_lb()
    policy = make_policy(portus, lb["id"])
    rule = openstack(
        portus,
        "l7rule",
        "create",
        "--type",
        "HEADER",
        "--compare-type",
        "EQUAL_TO",
        "--key",
        "X-Env",
        "--value",
        "prod",
        policy["id"],
        "-f",
        "json",
    )
    assert (rule["type"], rule["key"], rule["value"]) == ("HEADER", "X-Env", "prod")
    portus.wait_for(f"{rules_url(policy)}/{rule['id']}", "rule")
    listed = openstack(portus, "l7rule", "list", policy["id"], "-f", "json")
    assert [x["id"] for x in listed] == [rule["id"]]
    openstack(portus, "l7rule", "set", "--value", "staging", "--invert", policy["id"], rule["id"])
    shown = openstack(portus, "l7rule", "show", policy["id"], rule["id"], "-f", "json")
    assert (shown["value"], shown["invert"]) == ("staging", True)
    openstack(portus, "l7rule", "unset", "--invert", policy["id"], rule["id"])
    shown = openstack(portus, "l7rule", "show", policy["id"], rule["id"], "-f", "json")
    assert shown["invert"] is False
    openstack(portus, "l7rule", "delete", policy["id"], rule["id"])
    portus.wait_for(f"{rules_url(policy)}/{rule['id']}", "rule", "DELETED")
