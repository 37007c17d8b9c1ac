"""Load balancers built for real: the API's objects become HAProxy in a namespace, serving."""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from collections.abc import Callable

import httpx

from tests.support.portus_app import Portus

from dataplane_support import Backend, needs_root

pytestmark = [needs_root]


def get_many(url: str, n: int) -> Counter[str]:
    seen: Counter[str] = Counter()
    with httpx.Client(timeout=5) as c:
        for _ in range(n):
            seen[c.get(url).text] += 1
    return seen


def netns_list() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def test_http_lb_balances_and_member_changes_need_no_reload(
    amp_portus: Portus, backends: Callable[[str], Backend]
) -> None:
    p = amp_portus
    b1, b2, b3 = backends("one"), backends("two"), backends("three")
    lb = p.create_lb(name="web")
    lb_path = f"/v2/lbaas/loadbalancers/{lb['id']}"
    r = p.client.post(
        "/v2/lbaas/listeners",
        json={"listener": {"loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": 80}},
    )
    assert r.status_code == 201, r.text
    listener = r.json()["listener"]
    r = p.client.post(
        "/v2/lbaas/pools",
        json={
            "pool": {
                "listener_id": listener["id"],
                "protocol": "HTTP",
                "lb_algorithm": "ROUND_ROBIN",
            }
        },
    )
    assert r.status_code == 201, r.text
    pool = r.json()["pool"]
    for b in (b1, b2):
        r = p.client.post(
            f"/v2/lbaas/pools/{pool['id']}/members",
            json={"member": {"address": b.server.server_address[0], "protocol_port": b.port}},
        )
        assert r.status_code == 201, r.text
    lb = p.wait_lb(lb["id"])
    assert lb["operating_status"] == "ONLINE"
    (amphora,) = p.client.get("/v2/octavia/amphorae", params={"loadbalancer_id": lb["id"]}).json()[
        "amphorae"
    ]
    assert amphora["compute_id"] in netns_list()

    url = f"http://{lb['vip_address']}/"
    assert get_many(url, 20) == Counter({"one": 10, "two": 10})

    provider = p.controller.providers["amphora"]
    amp_id = amphora["id"]
    status = provider.agent.status(amp_id)  # type: ignore[attr-defined]
    reloads, master = status.reloads, status.haproxy_pid

    # Add a member, reweight one, disable another: all through the runtime API.
    r = p.client.post(
        f"/v2/lbaas/pools/{pool['id']}/members",
        json={
            "member": {
                "address": b3.server.server_address[0],
                "protocol_port": b3.port,
                "weight": 2,
            }
        },
    )
    assert r.status_code == 201
    members = p.client.get(f"/v2/lbaas/pools/{pool['id']}/members").json()["members"]
    first = next(m for m in members if m["protocol_port"] == b1.port)
    r = p.client.put(
        f"/v2/lbaas/pools/{pool['id']}/members/{first['id']}",
        json={"member": {"admin_state_up": False}},
    )
    assert r.status_code == 200
    p.wait_lb(lb["id"])
    seen = get_many(url, 30)
    assert seen["one"] == 0 and seen["three"] == 2 * seen["two"]
    after = provider.agent.status(amp_id)  # type: ignore[attr-defined]
    assert after.reloads == reloads and after.haproxy_pid == master
    assert after.runtime_applies > status.runtime_applies

    # Delete the LB: its namespace goes away.
    assert p.client.delete(f"{lb_path}?cascade=true").status_code == 204
    p.wait_lb(lb["id"], "DELETED")
    deadline = time.monotonic() + 5
    while amphora["compute_id"] in netns_list() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert amphora["compute_id"] not in netns_list()
