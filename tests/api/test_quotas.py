"""Quotas through the HTTP API (and the openstack CLI): records, defaults, enforcement, roles."""

from __future__ import annotations

import uuid

from tests.support.osc import openstack
from tests.support.portus_app import Portus

QUOTAS = "/v2/lbaas/quotas"
KINDS = ("loadbalancer", "listener", "pool", "healthmonitor", "member", "l7policy", "l7rule")
ALL_DEFAULT = {**{k: -1 for k in KINDS}, "load_balancer": -1, "health_monitor": -1}
MEMBER = {"X-Project-Id": "p1", "X-Roles": "member"}


def test_defaults_and_effective_quota(portus_module: Portus) -> None:
    c = portus_module.client
    assert c.get(f"{QUOTAS}/defaults").json() == {"quota": ALL_DEFAULT}
    assert c.get(f"{QUOTAS}/any-project/default").json() == {"quota": ALL_DEFAULT}
    assert c.get(f"{QUOTAS}/never-set").json() == {"quota": ALL_DEFAULT}
    assert c.get(QUOTAS, params={"project_id": "never-set"}).json() == {
        "quotas": [],
        "quotas_links": [],
    }


def test_set_show_list_and_reset(portus_module: Portus) -> None:
    c = portus_module.client
    project = str(uuid.uuid4())
    r = c.put(f"{QUOTAS}/{project}", json={"quota": {"loadbalancer": 5, "member": 0}})
    assert r.status_code == 202
    assert r.json()["quota"] == {**ALL_DEFAULT, "loadbalancer": 5, "load_balancer": 5, "member": 0}
    listed = c.get(QUOTAS, params={"project_id": project}).json()["quotas"]
    assert listed == [
        {
            "project_id": project,
            "tenant_id": project,
            **{k: None for k in KINDS},
            "load_balancer": 5,
            "loadbalancer": 5,
            "health_monitor": None,
            "member": 0,
        }
    ]
    r = c.put(f"{QUOTAS}/{project}", json={"quota": {"loadbalancer": None, "pool": 2000000000}})
    assert r.json()["quota"]["loadbalancer"] == -1
    assert c.get(f"{QUOTAS}/{project}").json()["quota"]["pool"] == 2000000000
    assert c.delete(f"{QUOTAS}/{project}").status_code == 202
    assert c.get(f"{QUOTAS}/{project}").json() == {"quota": ALL_DEFAULT}
    r = c.delete(f"{QUOTAS}/{project}")
    assert r.status_code == 404


def test_deprecated_spellings(portus_module: Portus) -> None:
    c = portus_module.client
    project = str(uuid.uuid4())
    r = c.put(f"{QUOTAS}/{project}", json={"quota": {"load_balancer": 3, "health_monitor": 4}})
    assert r.status_code == 202
    quota = r.json()["quota"]
    assert (quota["loadbalancer"], quota["load_balancer"]) == (3, 3)
    assert (quota["healthmonitor"], quota["health_monitor"]) == (4, 4)


def test_value_range_and_unknown_keys(portus_module: Portus) -> None:
    c = portus_module.client
    for body in ({"pool": -2}, {"pool": 2000000001}, {"pools": 1}, {"pool": "many"}):
        assert c.put(f"{QUOTAS}/x", json={"quota": body}).status_code == 400


def test_roles(portus_module: Portus) -> None:
    c = portus_module.client
    assert c.put(f"{QUOTAS}/p1", json={"quota": {"pool": 1}}, headers=MEMBER).status_code == 403
    assert c.delete(f"{QUOTAS}/p1", headers=MEMBER).status_code == 403
    assert c.get(f"{QUOTAS}/p1", headers=MEMBER).status_code == 200
    assert c.get(f"{QUOTAS}/p2", headers=MEMBER).status_code == 403
    quota_admin = {"X-Project-Id": "ops", "X-Roles": "load-balancer_quota_admin"}
    assert (
        c.put(f"{QUOTAS}/p2", json={"quota": {"pool": 1}}, headers=quota_admin).status_code == 202
    )
    assert c.get(QUOTAS, headers=MEMBER).json()["quotas"] == []
    c.put(f"{QUOTAS}/p1", json={"quota": {"pool": 7}})
    mine = c.get(QUOTAS, headers=MEMBER).json()["quotas"]
    assert [(q["project_id"], q["pool"]) for q in mine] == [("p1", 7)]
    everyone = {q["project_id"] for q in c.get(QUOTAS).json()["quotas"]}
    assert {"p1", "p2"} <= everyone


def test_enforced_for_load_balancers(portus: Portus) -> None:
    c = portus.client
    assert c.put(f"{QUOTAS}/admin", json={"quota": {"loadbalancer": 1}}).status_code == 202
    portus.create_lb()
    r = c.post("/v2/lbaas/loadbalancers", json={"loadbalancer": {"vip_subnet_id": "public"}})
    assert r.status_code == 403
    assert r.json()["faultstring"] == "Quota has been met for resources: Load Balancer"
    c.put(f"{QUOTAS}/admin", json={"quota": {"loadbalancer": -1}})
    r = c.post("/v2/lbaas/loadbalancers", json={"loadbalancer": {"vip_subnet_id": "public"}})
    assert r.status_code == 201


def test_openstack_cli_show_and_defaults(portus_module: Portus) -> None:
    p = portus_module
    project = str(uuid.uuid4())
    defaults = openstack(p, "quota", "defaults", "show", "-f", "json")
    assert defaults["load_balancer"] == -1 and defaults["l7rule"] == -1
    p.client.put(f"{QUOTAS}/{project}", json={"quota": {"loadbalancer": 4, "member": 8}})
    shown = openstack(p, "quota", "show", project, "-f", "json")
    assert (shown["load_balancer"], shown["member"], shown["pool"]) == (4, 8, -1)


def test_openstack_cli_set_list_reset(portus_module: Portus) -> None:
    p = portus_module
    project = str(uuid.uuid4())
    args = ("quota", "set", "--loadbalancer", "4", "--member", "8", project, "-f", "json")
    got = openstack(p, *args)
    assert (got["load_balancer"], got["member"]) == (4, 8)
    listed = openstack(p, "quota", "list", "--project", project, "-f", "json")
    assert [(q["project_id"], q["load_balancer"]) for q in listed] == [(project, 4)]
    openstack(p, "quota", "reset", project)
    assert openstack(p, "quota", "show", project, "-f", "json")["load_balancer"] == -1
