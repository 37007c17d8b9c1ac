"""Listener options through a real amphora: allowed_cidrs, inserted headers, Prometheus,
timeouts and limits; reload behaviour and LB admin state."""

from __future__ import annotations

import socket
from typing import Any

import httpx
import pytest

from dataplane_support import (
    Backend,
    Lab,
    Portus,
    amphora_of,
    create_lb,
    haproxy_cfg,
    member,
    needs_root,
    wait_until,
)

pytestmark = [needs_root, pytest.mark.dataplane]

ALLOWED, HEADERS, TIMEOUTS, METRICS = 80, 81, 82, 9100


def _http(name: str, port: int, server: Backend, **listener: Any) -> dict[str, Any]:
    return {
        "name": name,
        "protocol": "HTTP",
        "protocol_port": port,
        "default_pool": {
            "name": name,
            "protocol": "HTTP",
            "lb_algorithm": "ROUND_ROBIN",
            "members": [member(server)],
        },
        **listener,
    }


@pytest.fixture(scope="module")
def servers(module_lab: Lab) -> dict[str, Backend]:
    return {name: module_lab.http(name) for name in ("allowed", "headers", "timeouts")}


@pytest.fixture(scope="module")
def lb(amp_portus_module: Portus, servers: dict[str, Backend]) -> dict[str, Any]:
    gateway = amp_portus_module.settings.subnets[0].gateway
    listeners = [
        _http("allowed", ALLOWED, servers["allowed"], allowed_cidrs=[f"{gateway}/32"]),
        _http(
            "headers",
            HEADERS,
            servers["headers"],
            insert_headers={
                "X-Forwarded-For": "true",
                "X-Forwarded-Port": "true",
                "X-Forwarded-Proto": "true",
            },
        ),
        _http(
            "timeouts",
            TIMEOUTS,
            servers["timeouts"],
            connection_limit=7,
            timeout_client_data=20000,
            timeout_member_connect=3000,
            timeout_member_data=1000,
            timeout_tcp_inspect=50,
        ),
        {"name": "metrics", "protocol": "PROMETHEUS", "protocol_port": METRICS},
    ]
    return create_lb(amp_portus_module, name="options", listeners=listeners)


def section(cfg: str, title: str) -> str:
    """The body of one haproxy.cfg section."""
    return cfg.split(f"\n{title}\n", 1)[1].split("\n\n", 1)[0]


def url(lb: dict[str, Any], port: int, path: str = "/") -> str:
    return f"http://{lb['vip_address']}:{port}{path}"


def test_allowed_cidrs_let_the_listed_source_in(lb: dict[str, Any]) -> None:
    r = httpx.get(url(lb, ALLOWED), timeout=5)  # from the host, 10.254.<n>.1 is listed
    assert (r.status_code, r.text) == (200, "allowed")


def test_allowed_cidrs_drop_other_sources(lb: dict[str, Any], module_lab: Lab) -> None:
    client = module_lab.client()

    def connect(port: int) -> str:
        try:
            with socket.create_connection((lb["vip_address"], port), timeout=1.5):
                return "connected"
        except TimeoutError:
            return "timeout"
        except OSError as exc:
            return type(exc).__name__

    assert client.run(lambda: connect(ALLOWED)) == "timeout"
    assert client.run(lambda: connect(HEADERS)) == "connected"  # other listeners are open


def test_inserted_headers_reach_the_member(
    lb: dict[str, Any], module_lab: Lab, servers: dict[str, Backend]
) -> None:
    client = module_lab.client()
    r = client.run(lambda: httpx.get(url(lb, HEADERS), timeout=5))
    assert r.status_code == 200
    seen = {k.lower(): v for k, v in servers["headers"].requests[-1].items()}
    assert seen["x-forwarded-for"] == client.address
    assert seen["x-forwarded-port"] == str(HEADERS)
    assert seen["x-forwarded-proto"] == "http"


def test_listener_without_insert_headers_adds_none(
    lb: dict[str, Any], servers: dict[str, Backend]
) -> None:
    assert httpx.get(url(lb, ALLOWED), timeout=5).status_code == 200
    seen = {k.lower() for k in servers["allowed"].requests[-1]}
    assert not seen & {"x-forwarded-for", "x-forwarded-port", "x-forwarded-proto"}


def test_prometheus_listener_serves_haproxy_metrics(lb: dict[str, Any]) -> None:
    r = httpx.get(url(lb, METRICS, "/metrics"), timeout=5)
    assert r.status_code == 200
    assert "haproxy_process_" in r.text and "haproxy_frontend_" in r.text
    assert httpx.get(url(lb, METRICS, "/other"), timeout=5).status_code == 404


def test_member_data_timeout_gives_504(lb: dict[str, Any], servers: dict[str, Backend]) -> None:
    slow = servers["timeouts"]
    try:
        r = httpx.get(url(lb, TIMEOUTS, "/slow"), timeout=10)  # member holds it up to 5 s
    finally:
        slow.release.set()
    slow.release.clear()
    assert r.status_code == 504
    assert httpx.get(url(lb, TIMEOUTS), timeout=5).text == "timeouts"


def test_connection_limit_and_timeouts_are_rendered(
    lb: dict[str, Any], amp_portus_module: Portus
) -> None:
    api = amp_portus_module.client
    listener = api.get("/v2/lbaas/listeners", params={"name": "timeouts"}).json()["listeners"][0]
    assert (listener["connection_limit"], listener["timeout_member_data"]) == (7, 1000)
    cfg = haproxy_cfg(amp_portus_module, lb["id"])
    frontend = section(cfg, f"frontend {listener['id']}")
    assert "maxconn 7" in frontend and "timeout client 20000" in frontend
    assert "tcp-request inspect-delay 50" in frontend
    backend = section(cfg, f"backend {listener['default_pool_id']}:{listener['id']}")
    assert "timeout connect 3000" in backend and "timeout server 1000" in backend


def test_unchanged_update_causes_no_reload_but_a_real_change_does(
    lb: dict[str, Any], amp_portus_module: Portus
) -> None:
    p = amp_portus_module
    agent, amp_id = amphora_of(p, lb["id"])
    before = agent.status(amp_id)
    listener = p.client.get("/v2/lbaas/listeners", params={"name": "allowed"}).json()
    lid = listener["listeners"][0]["id"]
    r = p.client.put(f"/v2/lbaas/listeners/{lid}", json={"listener": {"name": "allowed"}})
    assert r.status_code == 200, r.text
    p.wait_lb(lb["id"])
    r = p.client.put(f"/v2/lbaas/loadbalancers/{lb['id']}", json={"loadbalancer": {}})
    assert r.status_code == 200, r.text
    p.wait_lb(lb["id"])
    same = agent.status(amp_id)
    assert (same.reloads, same.haproxy_pid) == (before.reloads, before.haproxy_pid)

    r = p.client.put(
        f"/v2/lbaas/listeners/{lid}", json={"listener": {"timeout_client_data": 30000}}
    )
    assert r.status_code == 200, r.text
    p.wait_lb(lb["id"])
    assert agent.status(amp_id).reloads == before.reloads + 1


def test_disabled_lb_stops_serving_and_serves_again_when_enabled(
    lb: dict[str, Any], amp_portus_module: Portus
) -> None:
    p = amp_portus_module
    path = f"/v2/lbaas/loadbalancers/{lb['id']}"

    def serving() -> bool:
        try:
            return httpx.get(url(lb, HEADERS), timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    assert serving()
    assert p.client.put(path, json={"loadbalancer": {"admin_state_up": False}}).status_code == 200
    p.wait_lb(lb["id"])
    assert wait_until(lambda: not serving(), timeout=5)
    assert p.client.get(path).json()["loadbalancer"]["operating_status"] == "OFFLINE"
    assert p.client.put(path, json={"loadbalancer": {"admin_state_up": True}}).status_code == 200
    p.wait_lb(lb["id"])
    assert wait_until(serving, timeout=5)
