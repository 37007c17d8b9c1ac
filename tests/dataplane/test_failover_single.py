"""SINGLE amphorae rebuilt for real: HAProxy killed, namespace deleted, failover APIs, and the
circuit breaker that refuses to fail over when too many amphorae are lost at once."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from typing import Any

import httpx

from tests.support.portus_app import Portus

from dataplane_support import Backend, create_lb, needs_root, wait_until
from health.health_support import watch

pytestmark = [needs_root]


def amphorae(p: Portus, lb_id: str) -> list[dict[str, Any]]:
    r = p.client.get("/v2/octavia/amphorae", params={"loadbalancer_id": lb_id})
    return list(r.json()["amphorae"])


def serves(url: str) -> bool:
    try:
        return httpx.get(url, timeout=0.5).text == "one"
    except httpx.HTTPError:
        return False


def settled(p: Portus, lb_id: str, old: str) -> bool:
    """A new amphora is ALLOCATED, the old one gone, the LB ACTIVE again."""
    amps = amphorae(p, lb_id)
    lb = p.client.get(f"/v2/lbaas/loadbalancers/{lb_id}").json()["loadbalancer"]
    return (
        lb["provisioning_status"] == "ACTIVE"
        and len(amps) == 1
        and amps[0]["id"] != old
        and amps[0]["status"] == "ALLOCATED"
    )


def web_lb(p: Portus, backend: Backend) -> dict[str, Any]:
    return create_lb(
        p,
        listeners=[
            {
                "protocol": "HTTP",
                "protocol_port": 80,
                "default_pool": {
                    "protocol": "HTTP",
                    "lb_algorithm": "ROUND_ROBIN",
                    "members": [{"address": backend.address, "protocol_port": backend.port}],
                },
            }
        ],
    )


def test_lost_single_amphora_is_rebuilt_and_serves_again(
    amp_portus: Portus, backends: Callable[[str], Backend]
) -> None:
    p = amp_portus
    lb = web_lb(p, backends("one"))
    url = f"http://{lb['vip_address']}/"
    agent: Any = p.controller.providers["amphora"].agent  # type: ignore[attr-defined]
    with watch(p) as health:
        assert serves(url)

        # 1. HAProxy dies: its agent reports it, the amphora is rebuilt.
        old = amphorae(p, lb["id"])[0]["id"]
        pid = agent.status(old).haproxy_pid
        killed = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        assert wait_until(lambda: settled(p, lb["id"], old), timeout=15)
        assert wait_until(lambda: serves(url), timeout=5)
        print(f"haproxy killed -> serving again in {time.monotonic() - killed:.2f}s")
        assert old in health.failovers

        # 2. The namespace disappears under it: rebuilt as well.
        old = amphorae(p, lb["id"])[0]["id"]
        info = next(i for i in agent.list_amphorae() if i.id == old)
        subprocess.run(["ip", "netns", "delete", info.netns], check=True)
        assert wait_until(lambda: settled(p, lb["id"], old), timeout=15)
        assert wait_until(lambda: serves(url), timeout=5)

        # 3. On demand: LB failover and amphora failover APIs.
        old = amphorae(p, lb["id"])[0]["id"]
        r = p.client.put(f"/v2/lbaas/loadbalancers/{lb['id']}/failover")
        assert r.status_code == 202, r.text
        assert wait_until(lambda: settled(p, lb["id"], old), timeout=15)
        assert serves(url)
        old = amphorae(p, lb["id"])[0]["id"]
        r = p.client.put(f"/v2/octavia/amphorae/{old}/failover")
        assert r.status_code == 202, r.text
        assert wait_until(lambda: settled(p, lb["id"], old), timeout=15)
        assert serves(url)

        # Nothing is left pending, and no extra failover happened along the way.
        lb_now = p.client.get(f"/v2/lbaas/loadbalancers/{lb['id']}").json()["loadbalancer"]
        assert lb_now["provisioning_status"] == "ACTIVE"
        time.sleep(2 * 0.2 + 1.5)  # one heartbeat timeout: the new amphora is not "lost"
        assert len(health.failovers) == 2
        assert amphorae(p, lb["id"])[0]["status"] == "ALLOCATED"


def test_circuit_breaker_stops_failover_and_says_so(
    amp_portus: Portus, backends: Callable[[str], Backend]
) -> None:
    p = amp_portus
    lb = web_lb(p, backends("one"))
    agent: Any = p.controller.providers["amphora"].agent  # type: ignore[attr-defined]
    with watch(p, threshold=1) as health:
        amp = amphorae(p, lb["id"])[0]
        os.kill(agent.status(amp["id"]).haproxy_pid, signal.SIGKILL)

        def stopped() -> bool:
            return amphorae(p, lb["id"])[0]["status"] == "FAILOVER_STOPPED"

        assert wait_until(stopped, timeout=10)
        shown = p.client.get(f"/v2/octavia/amphorae/{amp['id']}").json()["amphora"]
        assert shown["id"] == amp["id"]
        assert health.failovers == [] and health.stopped == [amp["id"]]
        lb_now = p.client.get(f"/v2/lbaas/loadbalancers/{lb['id']}").json()["loadbalancer"]
        assert lb_now["provisioning_status"] == "ACTIVE"
        # The operator can still fail it over by hand.
        r = p.client.put(f"/v2/octavia/amphorae/{amp['id']}/failover")
        assert r.status_code == 202, r.text
        assert wait_until(lambda: settled(p, lb["id"], amp["id"]), timeout=15)
        assert serves(f"http://{lb['vip_address']}/")
