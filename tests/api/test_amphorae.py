"""The amphora admin API (/v2/octavia/amphorae) over rows a provider would have written.

The noop provider builds no amphorae, so the rows are put in the database directly.
"""

from __future__ import annotations

from typing import Any

from portus.db.models import Amphora, ListenerStats, LoadBalancer
from tests.support.osc import openstack
from tests.support.portus_app import Portus

AMPS = "/v2/octavia/amphorae"
MEMBER = {"X-Project-Id": "p1", "X-Roles": "member"}


def add_amphora(portus: Portus, lb_id: str | None, **fields: Any) -> str:
    with portus.db.session() as s:
        values = {"status": "ALLOCATED", "role": "STANDALONE", **fields}
        amp = Amphora(load_balancer_id=lb_id, **values)
        s.add(amp)
        s.flush()
        return amp.id


def status_of(portus: Portus, amp_id: str) -> str:
    """The amphora's status; DELETED once it is gone (404), as a finished failover leaves it."""
    r = portus.client.get(f"{AMPS}/{amp_id}")
    if r.status_code == 404:
        return "DELETED"
    return str(r.json()["amphora"]["status"])


def test_list_show_and_filters(portus: Portus) -> None:
    c = portus.client
    lb = portus.create_lb()
    other = portus.create_lb(project_id="p2")
    a1 = add_amphora(portus, lb["id"], lb_network_ip="192.0.2.5", compute_flavor="small")
    a2 = add_amphora(portus, other["id"], role="MASTER")
    add_amphora(portus, None, status="DELETED")
    got = c.get(f"{AMPS}/{a1}").json()["amphora"]
    assert got["loadbalancer_id"] == lb["id"]
    assert (got["lb_network_ip"], got["compute_flavor"], got["status"]) == (
        "192.0.2.5",
        "small",
        "ALLOCATED",
    )
    assert got["created_at"] is not None and got["cert_busy"] is False
    listed = c.get(AMPS).json()
    assert {a["id"] for a in listed["amphorae"]} == {a1, a2} and listed["amphorae_links"] == []
    by_lb = c.get(AMPS, params={"loadbalancer_id": other["id"]}).json()["amphorae"]
    assert [a["id"] for a in by_lb] == [a2]
    assert [a["id"] for a in c.get(AMPS, params={"role": "MASTER"}).json()["amphorae"]] == [a2]
    by_project = c.get(AMPS, params={"project_id": "p2", "fields": "id"}).json()["amphorae"]
    assert by_project == [{"id": a2}]
    assert c.get(AMPS, headers=MEMBER).status_code == 403
    assert c.get(f"{AMPS}/{a1}", headers=MEMBER).status_code == 403
    assert c.get(f"{AMPS}/3f1e2d3c-0000-4000-8000-000000000000").status_code == 404


def test_stats(portus: Portus) -> None:
    lb = portus.create_lb()
    amp = add_amphora(portus, lb["id"])
    assert portus.client.get(f"{AMPS}/{amp}/stats").status_code == 404
    with portus.db.session() as s:
        s.add(
            ListenerStats(
                listener_id="l1",
                amphora_id=amp,
                load_balancer_id=lb["id"],
                bytes_in=10,
                bytes_out=20,
                active_connections=1,
                total_connections=5,
                request_errors=2,
            )
        )
    r = portus.client.get(f"{AMPS}/{amp}/stats")
    assert r.status_code == 200
    assert r.json() == {
        "amphora_stats": [
            {
                "id": amp,
                "listener_id": "l1",
                "loadbalancer_id": lb["id"],
                "active_connections": 1,
                "bytes_in": 10,
                "bytes_out": 20,
                "request_errors": 2,
                "total_connections": 5,
            }
        ]
    }


def test_config_and_failover_requeue_the_lb(portus: Portus) -> None:
    c = portus.client
    lb = portus.create_lb()
    amp = add_amphora(portus, lb["id"])
    r = c.put(f"{AMPS}/{amp}/config")
    assert r.status_code == 202 and r.content == b""
    portus.wait_lb(lb["id"])
    before = c.get(f"/v2/lbaas/loadbalancers/{lb['id']}").json()["loadbalancer"]["updated_at"]
    assert before is not None
    assert c.put(f"{AMPS}/{amp}/failover", headers=MEMBER).status_code == 403
    assert c.put(f"{AMPS}/{amp}/failover").status_code == 202
    # Marked for rebuild; the (noop) reconcile may already have retired it.
    assert status_of(portus, amp) in ("PENDING_DELETE", "DELETED")
    portus.wait_lb(lb["id"])
    assert status_of(portus, amp) == "DELETED"


def test_no_failover_while_the_lb_is_deleted(portus: Portus) -> None:
    lb = portus.create_lb()
    amp = add_amphora(portus, lb["id"])
    with portus.db.session() as s:
        row = s.get(LoadBalancer, lb["id"])
        assert row is not None
        row.provisioning_status = "PENDING_DELETE"
    r = portus.client.put(f"{AMPS}/{amp}/failover")
    assert r.status_code == 409
    assert r.json()["faultstring"] == (
        f"Invalid state PENDING_DELETE of loadbalancer resource {lb['id']}"
    )


def test_delete_only_in_error(portus: Portus) -> None:
    c = portus.client
    lb = portus.create_lb()
    amp = add_amphora(portus, lb["id"])
    r = c.delete(f"{AMPS}/{amp}")
    assert r.status_code == 409
    assert r.json()["faultstring"] == f"Invalid state ALLOCATED of amphora resource {amp}"
    with portus.db.session() as s:
        row = s.get(Amphora, amp)
        assert row is not None
        row.status = "ERROR"
    assert c.delete(f"{AMPS}/{amp}").status_code == 204
    assert c.get(f"{AMPS}/{amp}").status_code == 404
    assert c.get(AMPS).json()["amphorae"] == []
    portus.wait_lb(lb["id"])


def test_openstack_cli(portus: Portus) -> None:
    lb = portus.create_lb()
    amp = add_amphora(portus, lb["id"], lb_network_ip="192.0.2.9")
    with portus.db.session() as s:
        s.add(
            ListenerStats(listener_id="l1", amphora_id=amp, load_balancer_id=lb["id"], bytes_in=7)
        )
    listed = openstack(portus, "amphora", "list", "-f", "json")
    assert [x["id"] for x in listed] == [amp]
    shown = openstack(portus, "amphora", "show", amp, "-f", "json")
    assert shown["lb_network_ip"] == "192.0.2.9"
    stats = openstack(portus, "amphora", "stats", "show", amp, "-f", "json")
    assert stats["bytes_in"] == 7
    openstack(portus, "amphora", "configure", amp)
    openstack(portus, "amphora", "failover", amp)
    # Marked for rebuild; the (noop) reconcile may already have retired it.
    assert status_of(portus, amp) in ("PENDING_DELETE", "DELETED")
