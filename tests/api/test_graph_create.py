"""The single-call ("fully populated") load balancer create: what a client sees."""

from __future__ import annotations

from typing import Any

from tests.support.osc import fault
from tests.support.portus_app import Portus

LBS = "/v2/lbaas/loadbalancers"


def post_lb(portus: Portus, **fields: Any) -> Any:
    body = {"vip_subnet_id": "public", **fields}
    return portus.client.post(LBS, json={"loadbalancer": body})


def count(portus: Portus, path: str, key: str) -> int:
    return len(portus.client.get(path).json()[key])


WEB_POOL = {
    "name": "web",
    "protocol": "HTTP",
    "lb_algorithm": "ROUND_ROBIN",
    "healthmonitor": {"type": "HTTP", "delay": 5, "timeout": 3, "max_retries": 2},
    "members": [
        {"address": "192.0.2.10", "protocol_port": 80},
        {"address": "192.0.2.11", "protocol_port": 80, "weight": 5},
    ],
}
API_POOL = {"name": "api", "protocol": "HTTP", "lb_algorithm": "LEAST_CONNECTIONS"}


def test_full_graph_renders_whole_objects_and_goes_active(portus_module: Portus) -> None:
    r = post_lb(
        portus_module,
        name="full",
        pools=[WEB_POOL, API_POOL],
        listeners=[
            {
                "name": "http",
                "protocol": "HTTP",
                "protocol_port": 80,
                "default_pool": {"name": "web"},
                "l7policies": [
                    {
                        "action": "REDIRECT_TO_POOL",
                        "redirect_pool": {"name": "api"},
                        "rules": [{"type": "PATH", "compare_type": "STARTS_WITH", "value": "/api"}],
                    }
                ],
            },
            {
                "protocol": "TCP",
                "protocol_port": 443,
                "default_pool": {
                    "name": "tls",
                    "protocol": "TCP",
                    "lb_algorithm": "SOURCE_IP",
                },
            },
        ],
    )
    assert r.status_code == 201, r.text
    lb = r.json()["loadbalancer"]
    http, tcp = lb["listeners"]
    pools = {p["name"]: p for p in lb["pools"]}
    assert set(pools) == {"web", "api", "tls"}
    assert http["default_pool_id"] == pools["web"]["id"]
    assert tcp["default_pool_id"] == pools["tls"]["id"]
    assert http["timeout_client_data"] == 50000 and len(http["l7policies"]) == 1
    assert pools["web"]["healthmonitor_id"] and len(pools["web"]["members"]) == 2
    assert pools["api"]["listeners"] == [{"id": http["id"]}]
    assert all(p["provisioning_status"] == "PENDING_CREATE" for p in lb["pools"])
    portus_module.wait_lb(lb["id"])
    tree = portus_module.client.get(f"{LBS}/{lb['id']}/status").json()["statuses"]
    listeners = tree["loadbalancer"]["listeners"]
    assert [p["name"] for p in listeners[0]["pools"]] == ["web", "api"]
    web = listeners[0]["pools"][0]
    assert web["health_monitor"]["provisioning_status"] == "ACTIVE"
    assert [m["operating_status"] for m in web["members"]] == ["OFFLINE", "OFFLINE"]
    assert all(m["provisioning_status"] == "ACTIVE" for m in web["members"])


def test_pools_must_be_named_and_defined(portus_module: Portus) -> None:
    before = count(portus_module, LBS, "loadbalancers")
    r = post_lb(portus_module, pools=[{"protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}])
    assert r.status_code == 400 and "Pools must be named" in fault(r)
    r = post_lb(
        portus_module,
        listeners=[{"protocol": "HTTP", "protocol_port": 80, "default_pool": {"name": "ghost"}}],
    )
    assert r.status_code == 400
    assert fault(r) == "Pool 'ghost' was referenced but no full definition was found."
    r = post_lb(portus_module, pools=[API_POOL, API_POOL])
    assert r.status_code == 400 and "defined twice" in fault(r)
    assert count(portus_module, LBS, "loadbalancers") == before


def test_nested_objects_use_the_endpoint_rules(portus_module: Portus) -> None:
    before = count(portus_module, LBS, "loadbalancers")
    r = post_lb(portus_module, listeners=[{"protocol": "QUIC", "protocol_port": 80}])
    assert r.status_code == 400 and "Value should be one of:" in fault(r)
    r = post_lb(portus_module, listeners=[{"protocol": "HTTP", "protocol_port": 80, "bogus": 1}])
    assert r.status_code == 400
    assert fault(r) == "Unknown attribute for argument listener: bogus"
    r = post_lb(
        portus_module,
        listeners=[
            {"protocol": "HTTP", "protocol_port": 80},
            {"protocol": "TERMINATED_HTTPS", "protocol_port": 80, "sni_container_refs": ["x"]},
        ],
    )
    assert r.status_code == 409
    bad_member = {**API_POOL, "members": [{"address": "169.254.169.254", "protocol_port": 80}]}
    r = post_lb(portus_module, pools=[bad_member])
    assert r.status_code == 400 and "member address" in fault(r)
    r = post_lb(
        portus_module,
        pools=[{**API_POOL, "protocol": "UDP"}],
        listeners=[{"protocol": "HTTP", "protocol_port": 80, "default_pool": {"name": "api"}}],
    )
    assert r.status_code == 400
    assert "The pool protocol 'UDP' is invalid while the listener protocol is 'HTTP'." in fault(r)
    bad_hm = {**API_POOL, "healthmonitor": {"type": "HTTP", "delay": 1}}
    r = post_lb(portus_module, pools=[bad_hm])
    assert r.status_code == 400 and "Mandatory field missing." in fault(r)
    assert count(portus_module, LBS, "loadbalancers") == before


def test_quota_covers_every_object_of_the_graph(portus: Portus) -> None:
    r = portus.client.put("/v2/lbaas/quotas/admin", json={"quota": {"member": 1}})
    assert r.status_code == 202
    r = post_lb(portus, pools=[WEB_POOL])
    assert r.status_code == 403
    assert fault(r) == "Quota has been met for resources: Member"
    assert count(portus, LBS, "loadbalancers") == 0
    assert count(portus, "/v2/lbaas/pools", "pools") == 0
    r = portus.client.put("/v2/lbaas/quotas/admin", json={"quota": {"member": 5, "listener": 1}})
    assert r.status_code == 202
    two = [{"protocol": "HTTP", "protocol_port": 80}, {"protocol": "TCP", "protocol_port": 81}]
    r = post_lb(portus, listeners=two)
    assert r.status_code == 403 and fault(r) == "Quota has been met for resources: Listener"
    r = post_lb(portus, listeners=two[:1], pools=[WEB_POOL])
    assert r.status_code == 201, r.text
