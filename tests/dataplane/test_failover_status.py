"""Operating status and statistics from real heartbeats: a real amphora, real HAProxy health
checks against real member servers, the health process writing what the API shows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from portus.config import SubnetConfig
from tests.support.portus_app import Portus

from dataplane_support import create_lb, needs_root, wait_until
from health.health_support import Restartable, watch

pytestmark = [needs_root]

CLOSE = {"Connection": "close"}  # one connection per request, so totals count requests


@pytest.fixture
def members(subnet: SubnetConfig) -> Iterator[list[Restartable]]:
    servers = [Restartable(subnet.gateway or "", name) for name in ("one", "two")]
    yield servers
    for s in servers:
        s.stop()


def tree(p: Portus, lb_id: str) -> dict[str, Any]:
    r = p.client.get(f"/v2/lbaas/loadbalancers/{lb_id}/status")
    assert r.status_code == 200, r.text
    return dict(r.json()["statuses"]["loadbalancer"])


def flat(t: dict[str, Any]) -> dict[str, str]:
    pool = t["listeners"][0]["pools"][0]
    out = {"lb": t["operating_status"], "listener": t["listeners"][0]["operating_status"]}
    out["pool"] = pool["operating_status"]
    for m in pool["members"]:
        out[str(m["protocol_port"])] = m["operating_status"]
    return out


def test_member_down_and_up_shows_in_status_tree_and_stats_grow(
    amp_portus: Portus, members: list[Restartable]
) -> None:
    p = amp_portus
    one, two = members
    with watch(p) as health:
        lb = create_lb(
            p,
            listeners=[
                {
                    "protocol": "HTTP",
                    "protocol_port": 80,
                    "default_pool": {
                        "protocol": "HTTP",
                        "lb_algorithm": "ROUND_ROBIN",
                        "healthmonitor": {
                            "type": "HTTP",
                            "delay": 1,
                            "timeout": 1,
                            "max_retries": 1,
                            "max_retries_down": 1,
                        },
                        "members": [
                            {"address": s.address, "protocol_port": s.port} for s in members
                        ],
                    },
                }
            ],
        )
        one_port, two_port = str(one.port), str(two.port)
        healthy = {"lb": "ONLINE", "listener": "ONLINE", "pool": "ONLINE"}
        healthy |= {one_port: "ONLINE", two_port: "ONLINE"}
        assert wait_until(lambda: flat(tree(p, lb["id"])) == healthy, timeout=10)

        url = f"http://{lb['vip_address']}/"
        with httpx.Client(timeout=5) as c:
            answers = {c.get(url, headers=CLOSE).text for _ in range(10)}
        assert answers == {"one", "two"}

        def lb_stats() -> dict[str, int]:
            r = p.client.get(f"/v2/lbaas/loadbalancers/{lb['id']}/stats")
            return dict(r.json()["stats"])

        assert wait_until(lambda: lb_stats()["total_connections"] >= 10, timeout=5)
        first = lb_stats()
        assert first["bytes_in"] > 0 and first["bytes_out"] > 0

        two.stop()
        sick = healthy | {"lb": "DEGRADED", "pool": "DEGRADED", two_port: "ERROR"}
        assert wait_until(lambda: flat(tree(p, lb["id"])) == sick, timeout=6)
        with httpx.Client(timeout=5) as c:
            assert {c.get(url, headers=CLOSE).text for _ in range(6)} == {"one"}

        two.start()
        assert wait_until(lambda: flat(tree(p, lb["id"])) == healthy, timeout=6)

        # Counters only grow, and listener / amphora stats agree with the LB's.
        assert wait_until(
            lambda: lb_stats()["total_connections"] >= first["total_connections"] + 6,
            timeout=5,
        )
        later = lb_stats()
        for key in ("bytes_in", "bytes_out", "total_connections"):
            assert later[key] >= first[key]
        listener_id = tree(p, lb["id"])["listeners"][0]["id"]
        lstats = p.client.get(f"/v2/lbaas/listeners/{listener_id}/stats").json()["stats"]
        assert lstats["total_connections"] >= later["total_connections"]
        amps = p.client.get("/v2/octavia/amphorae", params={"loadbalancer_id": lb["id"]}).json()
        amp_id = amps["amphorae"][0]["id"]
        astats = p.client.get(f"/v2/octavia/amphorae/{amp_id}/stats").json()["amphora_stats"]
        assert astats[0]["listener_id"] == listener_id
        assert astats[0]["total_connections"] >= first["total_connections"]
        assert health.receiver.counters["forged"] == 0
        assert health.receiver.counters["accepted"] > 0
