"""Flavors and flavor profiles through the HTTP API (and the openstack CLI)."""

from __future__ import annotations

from typing import Any

from tests.support.osc import fault, openstack
from tests.support.portus_app import Portus

FLAVORS = "/v2/lbaas/flavors"
PROFILES = "/v2/lbaas/flavorprofiles"
NIL = "00000000-0000-0000-0000-000000000000"
MEMBER = {"X-Project-Id": "p1", "X-Roles": "member"}


def make_profile(portus: Portus, data: str = '{"loadbalancer_topology": "SINGLE"}') -> Any:
    body = {"name": "fp", "provider_name": "noop", "flavor_data": data}
    return portus.client.post(PROFILES, json={"flavorprofile": body})


def make_flavor(portus: Portus, name: str, profile_id: str, **extra: Any) -> Any:
    body = {"name": name, "flavor_profile_id": profile_id, **extra}
    return portus.client.post(FLAVORS, json={"flavor": body})


def test_profile_crud_and_validation(portus_module: Portus) -> None:
    c = portus_module.client
    r = make_profile(portus_module)
    assert r.status_code == 201, r.text
    profile = r.json()["flavorprofile"]
    assert set(profile) == {"id", "name", "provider_name", "flavor_data"}
    assert c.get(f"{PROFILES}/{profile['id']}").json()["flavorprofile"] == profile
    listed = c.get(PROFILES, params={"id": profile["id"]}).json()
    assert listed == {"flavorprofiles": [profile], "flavorprofile_links": []}
    r = make_profile(portus_module, "{not json")
    assert r.status_code == 400 and "flavor_data" in fault(r)
    r = make_profile(portus_module, '{"cpu_count": 2}')
    assert r.status_code == 400 and "cpu_count" in fault(r)
    r = make_profile(portus_module, '{"loadbalancer_topology": "TRIPLE"}')
    assert r.status_code == 400
    body = {"name": "x", "provider_name": "nope", "flavor_data": "{}"}
    r = c.post(PROFILES, json={"flavorprofile": body})
    assert r.status_code == 400 and fault(r) == "Provider 'nope' is not enabled."
    r = c.put(f"{PROFILES}/{profile['id']}", json={"flavorprofile": {"name": "renamed"}})
    assert r.status_code == 200 and r.json()["flavorprofile"]["name"] == "renamed"
    assert c.delete(f"{PROFILES}/{profile['id']}").status_code == 204
    assert c.get(f"{PROFILES}/{profile['id']}").status_code == 404


def test_profiles_are_admin_only(portus_module: Portus) -> None:
    c = portus_module.client
    assert c.get(PROFILES, headers=MEMBER).status_code == 403
    body = {"name": "x", "provider_name": "noop", "flavor_data": "{}"}
    assert c.post(PROFILES, json={"flavorprofile": body}, headers=MEMBER).status_code == 403


def test_flavor_crud_rules(portus_module: Portus) -> None:
    c = portus_module.client
    profile = make_profile(portus_module).json()["flavorprofile"]
    r = make_flavor(portus_module, "small", profile["id"], description="one amphora")
    assert r.status_code == 201, r.text
    flavor = r.json()["flavor"]
    assert flavor == {
        "id": flavor["id"],
        "name": "small",
        "description": "one amphora",
        "enabled": True,
        "flavor_profile_id": profile["id"],
    }
    r = make_flavor(portus_module, "small", profile["id"])
    assert r.status_code == 409 and fault(r) == "A flavor of small already exists."
    assert make_flavor(portus_module, "x", NIL).status_code == 400
    r = c.put(f"{FLAVORS}/{flavor['id']}", json={"flavor": {"enabled": False, "name": "tiny"}})
    assert r.status_code == 200
    assert (r.json()["flavor"]["enabled"], r.json()["flavor"]["name"]) == (False, "tiny")
    r = c.put(f"{FLAVORS}/{flavor['id']}", json={"flavor": {"flavor_profile_id": profile["id"]}})
    assert r.status_code == 400
    for method in ("get", "put", "delete"):
        kwargs: dict[str, Any] = {"json": {"flavor": {}}} if method == "put" else {}
        assert getattr(c, method)(f"{FLAVORS}/{NIL}", **kwargs).status_code == 404
    assert c.get(FLAVORS, headers=MEMBER).status_code == 200
    assert c.get(f"{FLAVORS}/{flavor['id']}", headers=MEMBER).status_code == 200
    r = c.put(f"{FLAVORS}/{flavor['id']}", json={"flavor": {"name": "m"}}, headers=MEMBER)
    assert r.status_code == 403
    r = c.get(FLAVORS, params={"name": "tiny", "fields": "id"}).json()
    assert r == {"flavors": [{"id": flavor["id"]}], "flavors_links": []}


def test_in_use_rules(portus: Portus) -> None:
    c = portus.client
    profile = make_profile(portus, '{"loadbalancer_topology": "ACTIVE_STANDBY"}').json()
    profile = profile["flavorprofile"]
    flavor = make_flavor(portus, "ha", profile["id"]).json()["flavor"]
    url = f"{PROFILES}/{profile['id']}"
    r = c.put(url, json={"flavorprofile": {"flavor_data": "{}"}})
    assert r.status_code == 409
    assert fault(r) == f"Flavor profile {profile['id']} is in use and cannot be modified."
    assert c.put(url, json={"flavorprofile": {"name": "still-ok"}}).status_code == 200
    assert c.delete(url).status_code == 409
    lb = portus.create_lb(flavor_id=flavor["id"])
    assert lb["flavor_id"] == flavor["id"]
    r = c.delete(f"{FLAVORS}/{flavor['id']}")
    assert r.status_code == 409 and "in use" in fault(r)
    c.put(f"{FLAVORS}/{flavor['id']}", json={"flavor": {"enabled": False}})
    r = c.post(
        "/v2/lbaas/loadbalancers",
        json={"loadbalancer": {"vip_subnet_id": "public", "flavor_id": flavor["id"]}},
    )
    assert r.status_code == 400
    assert c.delete(f"/v2/lbaas/loadbalancers/{lb['id']}").status_code == 204
    portus.wait_lb(lb["id"], "DELETED")
    assert c.delete(f"{FLAVORS}/{flavor['id']}").status_code == 204
    assert c.delete(url).status_code == 204


def test_openstack_cli(portus: Portus) -> None:
    profile = openstack(
        portus,
        "flavorprofile",
        "create",
        "--name",
        "fp",
        "--provider",
        "noop",
        "--flavor-data",
        '{"loadbalancer_topology": "SINGLE"}',
        "-f",
        "json",
    )
    assert profile["provider_name"] == "noop"
    assert [x["id"] for x in openstack(portus, "flavorprofile", "list", "-f", "json")] == [
        profile["id"]
    ]
    openstack(portus, "flavorprofile", "set", "--name", "fp2", profile["id"])
    assert openstack(portus, "flavorprofile", "show", profile["id"], "-f", "json")["name"] == "fp2"
    flavor = openstack(
        portus,
        "flavor",
        "create",
        "--name",
        "gold",
        "--flavorprofile",
        profile["id"],
        "--description",
        "d",
        "-f",
        "json",
    )
    assert flavor["enabled"] is True
    openstack(portus, "flavor", "set", "--disable", "gold")
    assert openstack(portus, "flavor", "show", "gold", "-f", "json")["enabled"] is False
    openstack(portus, "flavor", "unset", "--description", flavor["id"])
    assert openstack(portus, "flavor", "show", flavor["id"], "-f", "json")["description"] == ""
    assert [x["name"] for x in openstack(portus, "flavor", "list", "-f", "json")] == ["gold"]
    openstack(portus, "flavor", "delete", flavor["id"])
    openstack(portus, "flavorprofile", "delete", profile["id"])
    assert openstack(portus, "flavor", "list", "-f", "json") == []
