"""Status tree, statistics, failover and the OpenAPI document, through HTTP, CLI and SDK."""

from __future__ import annotations

from typing import Any

import openstack as sdk

from tests.support.osc import openstack
from tests.support.portus_app import Portus

LBS = "/v2/lbaas/loadbalancers"


def full_stack(portus: Portus) -> dict[str, Any]:
    body = {
        "vip_subnet_id": "public",
        "name": "tree",
        "listeners": [
            {"protocol": "HTTP", "protocol_port": 80, "name": "web", "default_pool": {"name": "p"}}
        ],
        "pools": [
            {
                "name": "p",
                "protocol": "HTTP",
                "lb_algorithm": "ROUND_ROBIN",
                "healthmonitor": {"type": "HTTP", "delay": 5, "timeout": 3, "max_retries": 2},
                "members": [{"address": "192.0.2.10", "protocol_port": 8080, "name": "m1"}],
            }
        ],
    }
    r = portus.client.post(LBS, json={"loadbalancer": body})
    assert r.status_code == 201, r.text
    return portus.wait_lb(r.json()["loadbalancer"]["id"])


def test_status_tree_has_octavias_shape(portus: Portus) -> None:
    lb = full_stack(portus)
    tree = portus.client.get(f"{LBS}/{lb['id']}/status").json()["statuses"]["loadbalancer"]
    assert set(tree) == {"id", "name", "provisioning_status", "operating_status", "listeners"}
    (listener,) = tree["listeners"]
    assert listener["name"] == "web"
    (pool,) = listener["pools"]
    assert pool["health_monitor"]["type"] == "HTTP"
    assert pool["health_monitor"]["operating_status"] == "ONLINE"
    (member,) = pool["members"]
    assert member["address"] == "192.0.2.10" and member["provisioning_status"] == "ACTIVE"
    assert portus.client.get(f"{LBS}/{lb['id']}/statuses").status_code == 200
    assert portus.client.get(f"{LBS}/nope/status").status_code == 404


def test_stats_and_failover(portus: Portus) -> None:
    lb = full_stack(portus)
    stats = portus.client.get(f"{LBS}/{lb['id']}/stats").json()["stats"]
    assert stats == {
        "bytes_in": 0,
        "bytes_out": 0,
        "active_connections": 0,
        "total_connections": 0,
        "request_errors": 0,
    }
    listener_id = lb["listeners"][0]["id"]
    r = portus.client.get(f"/v2/lbaas/listeners/{listener_id}/stats")
    assert r.json()["stats"]["bytes_in"] == 0
    assert portus.client.put(f"{LBS}/{lb['id']}/failover").status_code == 202
    assert portus.wait_lb(lb["id"])["provisioning_status"] == "ACTIVE"


def test_cli_status_stats_failover(portus: Portus) -> None:
    lb = full_stack(portus)
    tree = openstack(portus, "status", "show", lb["id"])
    assert tree["loadbalancer"]["listeners"][0]["pools"][0]["members"][0]["name"] == "m1"
    stats = openstack(portus, "stats", "show", lb["id"], "-f", "json")
    assert stats["total_connections"] == 0
    listener_id = lb["listeners"][0]["id"]
    assert (
        openstack(portus, "listener", "stats", "show", listener_id, "-f", "json")["bytes_in"] == 0
    )
    openstack(portus, "failover", lb["id"])
    portus.wait_lb(lb["id"])


def test_openstacksdk_load_balancer_round_trip(portus: Portus) -> None:
    conn = sdk.connection.Connection(
        auth_type="none", load_balancer_endpoint_override=portus.url + "/"
    )
    lb = conn.load_balancer.create_load_balancer(name="sdk", vip_subnet_id="public")
    lb = conn.load_balancer.wait_for_load_balancer(lb.id, interval=0.05, wait=30)
    assert lb.provisioning_status == "ACTIVE" and lb.vip_address
    assert [x.name for x in conn.load_balancer.load_balancers(name="sdk")] == ["sdk"]
    conn.load_balancer.update_load_balancer(lb.id, description="via sdk")
    lb = conn.load_balancer.wait_for_load_balancer(lb.id, interval=0.05, wait=30)
    assert lb.description == "via sdk"
    conn.load_balancer.delete_load_balancer(lb.id)
    conn.load_balancer.wait_for_delete(lb, interval=0.05, wait=30)


def test_openapi_document_describes_the_api(portus: Portus) -> None:
    doc = portus.client.get("/openapi.json").json()
    paths = doc["paths"]
    assert "/v2/lbaas/loadbalancers" in paths
    assert "/v2/lbaas/pools/{pool_id}/members" in paths
    post = paths["/v2/lbaas/loadbalancers"]["post"]
    assert "requestBody" in post
    schemas = doc["components"]["schemas"]
    assert "LoadBalancerCreate" in schemas
    assert "vip_subnet_id" in schemas["LoadBalancerCreate"]["properties"]
