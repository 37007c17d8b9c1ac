"""The spare pool for real: housekeeping makes a leg-less amphora namespace ahead of time, LB
creation adopts it (same amphora id, namespace reused) and the LB serves."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from typing import Any

import httpx

from portus.cli import build_housekeeper
from tests.support.portus_app import Portus

from dataplane_support import Backend, create_lb, needs_root

pytestmark = [needs_root]


def netns_list() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def test_lb_create_adopts_a_spare_amphora(
    amp_portus: Portus, backends: Callable[[str], Backend]
) -> None:
    p = amp_portus
    keeper = build_housekeeper(p.settings.with_(spare_pool_size=1), p.db, p.controller)
    before = netns_list()
    assert keeper.run_once()["spares_made"] == 1
    spare_ns = netns_list() - before
    assert len(spare_ns) == 1
    provider: Any = p.controller.providers["amphora"]
    spare_id = provider.agent.list_amphorae()[0].id

    backend = backends("one")
    lb = create_lb(
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
    amps = p.client.get("/v2/octavia/amphorae", params={"loadbalancer_id": lb["id"]}).json()
    assert [a["id"] for a in amps["amphorae"]] == [spare_id]
    assert netns_list() - before == spare_ns  # the spare's namespace, no new one
    assert httpx.get(f"http://{lb['vip_address']}/", timeout=2).text == "one"
    # The pool is refilled on the next round.
    assert keeper.run_once()["spares_made"] == 1
