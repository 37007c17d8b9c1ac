"""Balancing and persistence through a real amphora: what each algorithm does to traffic.

One LB for the module, one HTTP listener per behaviour (built in a single API call), members
in namespaces of the test's own so each has an address of its own.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import httpx
import pytest

from dataplane_support import (
    Backend,
    Lab,
    NetnsHost,
    Portus,
    create_lb,
    member,
    needs_root,
    wait_until,
)

pytestmark = [needs_root, pytest.mark.dataplane]

PORTS = {
    "rr": 80,
    "leastconn": 81,
    "source_ip": 82,
    "source_ip_port": 83,
    "http_cookie": 84,
    "app_cookie": 85,
    "persist_src": 86,
    "off": 87,
}


class Setup:
    def __init__(self, lb: dict[str, Any], servers: dict[str, list[Backend]]) -> None:
        self.lb = lb
        self.vip = lb["vip_address"]
        self.servers = servers

    def url(self, key: str, path: str = "/") -> str:
        return f"http://{self.vip}:{PORTS[key]}{path}"


def _listener(key: str, algorithm: str, members: list[Backend], **pool: Any) -> dict[str, Any]:
    return {
        "name": key,
        "protocol": "HTTP",
        "protocol_port": PORTS[key],
        "default_pool": {
            "name": key,
            "protocol": "HTTP",
            "lb_algorithm": algorithm,
            "members": [member(m, name=m.name) for m in members],
            **pool,
        },
    }


@pytest.fixture(scope="module")
def setup(amp_portus_module: Portus, module_lab: Lab) -> Setup:
    lab = module_lab
    servers = {
        "rr": [lab.http("rr-a"), lab.http("rr-b"), lab.http("rr-c")],
        "leastconn": [lab.http("lc-a"), lab.http("lc-b")],
        "source_ip": [lab.http("si-a"), lab.http("si-b")],
        "source_ip_port": [lab.http("sip-a"), lab.http("sip-b")],
        "http_cookie": [lab.http("hc-a"), lab.http("hc-b")],
        "app_cookie": [lab.http("ac-a"), lab.http("ac-b")],
        "persist_src": [lab.http("ps-a"), lab.http("ps-b")],
    }
    on, off, drained = lab.http("on"), lab.http("off"), lab.http("drained")
    listeners = [
        _listener("rr", "ROUND_ROBIN", servers["rr"]),
        _listener("leastconn", "LEAST_CONNECTIONS", servers["leastconn"]),
        _listener("source_ip", "SOURCE_IP", servers["source_ip"]),
        _listener("source_ip_port", "SOURCE_IP_PORT", servers["source_ip_port"]),
        _listener(
            "http_cookie",
            "ROUND_ROBIN",
            servers["http_cookie"],
            session_persistence={"type": "HTTP_COOKIE"},
        ),
        _listener(
            "app_cookie",
            "ROUND_ROBIN",
            servers["app_cookie"],
            session_persistence={"type": "APP_COOKIE", "cookie_name": "JSESSIONID"},
        ),
        _listener(
            "persist_src",
            "ROUND_ROBIN",
            servers["persist_src"],
            session_persistence={"type": "SOURCE_IP"},
        ),
        {
            "name": "off",
            "protocol": "HTTP",
            "protocol_port": PORTS["off"],
            "default_pool": {
                "name": "off",
                "protocol": "HTTP",
                "lb_algorithm": "ROUND_ROBIN",
                "members": [
                    member(on),
                    member(off, admin_state_up=False),
                    member(drained, weight=0),
                ],
            },
        },
    ]
    servers["off"] = [on, off, drained]
    lb = create_lb(amp_portus_module, name="balancing", listeners=listeners)
    return Setup(lb, servers)


def names(url: str, n: int, *, fresh: bool = False, **kw: Any) -> Counter[str]:
    """Names of the members answering ``n`` GETs (``fresh``: a new connection for each)."""
    seen: Counter[str] = Counter()
    with httpx.Client(timeout=5, **kw) as c:
        for _ in range(n):
            if fresh:
                with httpx.Client(timeout=5, **kw) as one:
                    r = one.get(url)
            else:
                r = c.get(url)
            assert r.status_code == 200, r.text
            seen[r.text] += 1
    return seen


def names_from(client: NetnsHost, url: str, n: int) -> Counter[str]:
    return client.run(lambda: names(url, n, fresh=True))


def test_round_robin_spreads_requests_evenly(setup: Setup) -> None:
    assert names(setup.url("rr"), 30) == Counter({"rr-a": 10, "rr-b": 10, "rr-c": 10})


def test_least_connections_prefers_the_idle_member(setup: Setup) -> None:
    a, b = setup.servers["leastconn"]
    slow = threading.Thread(
        target=lambda: httpx.get(setup.url("leastconn", "/slow"), timeout=10), daemon=True
    )
    slow.start()
    try:
        assert wait_until(lambda: a.in_flight + b.in_flight == 1, timeout=5)
        idle = b if a.in_flight else a
        assert names(setup.url("leastconn"), 6) == Counter({idle.name: 6})
    finally:
        a.release.set()
        b.release.set()
        slow.join(timeout=10)
        a.release.clear()
        b.release.clear()


def test_source_ip_keeps_each_client_on_one_member(setup: Setup, module_lab: Lab) -> None:
    url = setup.url("source_ip")
    for client in (module_lab.client(), module_lab.client()):
        seen = names_from(client, url, 8)
        assert len(seen) == 1 and sum(seen.values()) == 8
    assert len(names(url, 8, fresh=True)) == 1  # the host, a third client


def test_source_ip_persistence_sticks_after_round_robin_pick(setup: Setup, module_lab: Lab) -> None:
    url = setup.url("persist_src")
    first = names_from(module_lab.client(), url, 8)
    assert len(first) == 1
    assert len(names(url, 8, fresh=True)) == 1


def test_source_ip_port_keeps_a_connection_on_one_member_and_spreads_connections(
    setup: Setup,
) -> None:
    url = setup.url("source_ip_port")
    assert len(names(url, 10)) == 1  # one keep-alive connection: one source port
    spread = names(url, 24, fresh=True)  # new connections: new source ports
    assert set(spread) == {"sip-a", "sip-b"}


def test_http_cookie_is_set_and_replaying_it_sticks(
    setup: Setup, amp_portus_module: Portus
) -> None:
    url = setup.url("http_cookie")
    r = httpx.get(url, timeout=5)
    cookie = r.cookies.get("SRV")
    assert cookie, r.headers
    api = amp_portus_module.client
    pool = api.get("/v2/lbaas/pools", params={"name": "http_cookie"}).json()["pools"][0]
    members = api.get(f"/v2/lbaas/pools/{pool['id']}/members").json()["members"]
    by_id = {m["id"]: m["name"] for m in members}
    assert by_id[cookie] == r.text  # the cookie names the member that answered
    assert names(url, 10, fresh=True, cookies={"SRV": cookie}) == Counter({r.text: 10})
    assert len(names(url, 10, fresh=True)) == 2  # without it: round robin


def test_app_cookie_replayed_sticks_to_the_member_that_set_it(setup: Setup) -> None:
    url = setup.url("app_cookie")
    r = httpx.get(url, timeout=5)
    assert r.cookies.get("JSESSIONID") == r.text
    assert names(url, 10, fresh=True, cookies={"JSESSIONID": r.text}) == Counter({r.text: 10})


def test_disabled_and_weight_zero_members_get_nothing(setup: Setup) -> None:
    _, off, drained = setup.servers["off"]
    assert names(setup.url("off"), 12) == Counter({"on": 12})
    assert off.requests == [] and drained.requests == []


def test_member_added_to_a_cookie_pool_serves_with_its_own_cookie(
    setup: Setup, amp_portus_module: Portus, module_lab: Lab
) -> None:
    """HAProxy cannot add cookie servers at runtime; the new member must still arrive."""
    api = amp_portus_module.client
    pool = api.get("/v2/lbaas/pools", params={"name": "http_cookie"}).json()["pools"][0]
    new = module_lab.http("hc-new")
    r = api.post(f"/v2/lbaas/pools/{pool['id']}/members", json={"member": member(new)})
    assert r.status_code == 201, r.text
    new_id = r.json()["member"]["id"]
    amp_portus_module.wait_lb(setup.lb["id"])
    url = setup.url("http_cookie")
    assert names(url, 9, fresh=True) == Counter({"hc-a": 3, "hc-b": 3, "hc-new": 3})
    assert names(url, 5, fresh=True, cookies={"SRV": new_id}) == Counter({"hc-new": 5})


def test_member_added_to_a_monitored_pool_is_checked_and_serves(
    setup: Setup, amp_portus_module: Portus, module_lab: Lab
) -> None:
    api = amp_portus_module.client
    pool = api.get("/v2/lbaas/pools", params={"name": "rr"}).json()["pools"][0]
    r = api.post(
        "/v2/lbaas/healthmonitors",
        json={
            "healthmonitor": {
                "pool_id": pool["id"],
                "type": "HTTP",
                "delay": 1,
                "timeout": 1,
                "max_retries": 1,
                "max_retries_down": 1,
            }
        },
    )
    assert r.status_code == 201, r.text
    amp_portus_module.wait_lb(setup.lb["id"])
    sick = module_lab.http("rr-sick")
    sick.status = 500
    r = api.post(f"/v2/lbaas/pools/{pool['id']}/members", json={"member": member(sick)})
    assert r.status_code == 201, r.text
    amp_portus_module.wait_lb(setup.lb["id"])
    # A second probe arrives only after the first one's verdict (fall 1: DOWN) was taken.
    assert wait_until(lambda: len(sick.requests) >= 2, timeout=10)
    assert names(setup.url("rr"), 9) == Counter({"rr-a": 3, "rr-b": 3, "rr-c": 3})
