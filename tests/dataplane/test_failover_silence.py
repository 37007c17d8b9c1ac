"""A whole LB host goes silent (no heartbeats, data plane unreachable): the health process
notices only by the heartbeat timeout, and the SINGLE LB is rebuilt and serves again. Run with
-s for the kill -> serving figure (docs/benchmarks.md); the default interval/timeout are used."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from typing import Any

import httpx

from portus.agent.heartbeat import HeartbeatSender
from portus.config import Settings
from tests.health.health_support import KEY, watch_pair
from tests.support.portus_app import Portus

from dataplane_support import Backend, create_lb, needs_root, wait_until

pytestmark = [needs_root]


def amphorae(p: Portus, lb_id: str) -> list[dict[str, Any]]:
    r = p.client.get("/v2/octavia/amphorae", params={"loadbalancer_id": lb_id})
    return list(r.json()["amphorae"])


def serves(url: str) -> bool:
    try:
        return httpx.get(url, timeout=0.3).text == "one"
    except httpx.HTTPError:
        return False


def test_silent_host_single_lb_is_rebuilt_and_serves_again(
    amp_portus: Portus, backends: Callable[[str], Backend]
) -> None:
    p = amp_portus
    backend = backends("one")
    pool = {
        "protocol": "HTTP",
        "lb_algorithm": "ROUND_ROBIN",
        "members": [{"address": backend.address, "protocol_port": backend.port}],
    }
    lb = create_lb(p, listeners=[{"protocol": "HTTP", "protocol_port": 80, "default_pool": pool}])
    url = f"http://{lb['vip_address']}/"
    agent: Any = p.controller.providers["amphora"].agent  # type: ignore[attr-defined]
    defaults = Settings()
    timing = {"interval": defaults.heartbeat_interval, "timeout": defaults.heartbeat_timeout}
    with watch_pair(p, check_interval=defaults.health_check_interval, **timing) as pair:
        health, sender = pair
        assert wait_until(lambda: serves(url), timeout=5)
        time.sleep(defaults.heartbeat_interval * 1.5)  # the health process has heard it
        old = amphorae(p, lb["id"])[0]["id"]
        netns = next(i.netns for i in agent.list_amphorae() if i.id == old)

        # The host goes dark: its agent says nothing more and its amphora is unreachable.
        sender.stop()
        gone = time.monotonic()
        subprocess.run(["ip", "-n", netns, "link", "set", "eth0", "down"], check=True)
        assert not serves(url)
        limit = defaults.heartbeat_timeout + 3 * defaults.health_check_interval + 2
        assert wait_until(lambda: old in health.failovers, timeout=limit)
        # The replacement's host reports (here: the same agent, heard again).
        revived = HeartbeatSender(agent, KEY, sender.targets, interval=timing["interval"])
        revived.start()
        try:
            assert wait_until(lambda: serves(url), timeout=10)
            print(f"host silent -> serving again in {time.monotonic() - gone:.2f}s")
            # The VIP answers as soon as the new HAProxy does; the statuses are written a moment
            # later, when the reconcile finalises (under CI load that moment shows).
            p.wait_lb(lb["id"])
            amps = amphorae(p, lb["id"])
            assert [a["status"] for a in amps] == ["ALLOCATED"] and amps[0]["id"] != old
            lb_now = p.client.get(f"/v2/lbaas/loadbalancers/{lb['id']}").json()["loadbalancer"]
            assert lb_now["provisioning_status"] == "ACTIVE"
            assert health.failovers == [old]  # the rebuilt one is heard, not failed over
        finally:
            revived.stop()
