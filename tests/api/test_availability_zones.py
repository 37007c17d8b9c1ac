"""Availability zones (keyed by name) and AZ profiles through the HTTP API and the CLI."""

from __future__ import annotations

from typing import Any

from tests.support.osc import fault, openstack
from tests.support.portus_app import Portus

ZONES = "/v2/lbaas/availabilityzones"
PROFILES = "/v2/lbaas/availabilityzoneprofiles"
MEMBER = {"X-Project-Id": "p1", "X-Roles": "member"}


def make_profile(portus: Portus, data: str = '{"compute_zone": "rack-1"}') -> Any:
    body = {"name": "azp", "provider_name": "noop", "availability_zone_data": data}
    return portus.client.post(PROFILES, json={"availability_zone_profile": body})


def make_zone(portus: Portus, name: str, profile_id: str, **extra: Any) -> Any:
    body = {"name": name, "availability_zone_profile_id": profile_id, **extra}
    return portus.client.post(ZONES, json={"availability_zone": body})


def test_profile_crud_and_validation(portus_module: Portus) -> None:
    c = portus_module.client
    r = make_profile(portus_module)
    assert r.status_code == 201, r.text
    profile = r.json()["availability_zone_profile"]
    assert set(profile) == {"id", "name", "provider_name", "availability_zone_data"}
    listed = c.get(PROFILES, params={"id": profile["id"]}).json()
    assert listed == {
        "availability_zone_profiles": [profile],
        "availability_zone_profile_links": [],
    }
    assert make_profile(portus_module, "[1]").status_code == 400
    r = make_profile(portus_module, '{"volume_zone": "x"}')
    assert r.status_code == 400 and "volume_zone" in fault(r)
    assert c.get(PROFILES, headers=MEMBER).status_code == 403
    url = f"{PROFILES}/{profile['id']}"
    r = c.put(url, json={"availability_zone_profile": {"name": "z"}})
    assert r.status_code == 200 and r.json()["availability_zone_profile"]["name"] == "z"
    assert c.delete(url).status_code == 204
    assert c.get(url).status_code == 404


def test_zone_crud_paging_and_rules(portus: Portus) -> None:
    c = portus.client
    profile = make_profile(portus).json()["availability_zone_profile"]
    for name in ("az-b", "az-a", "az-c"):
        assert make_zone(portus, name, profile["id"]).status_code == 201
    r = make_zone(portus, "az-a", profile["id"])
    assert r.status_code == 409
    assert make_zone(portus, "az-x", "nope").status_code == 400
    zone = c.get(f"{ZONES}/az-a").json()["availability_zone"]
    assert zone == {
        "name": "az-a",
        "description": "",
        "enabled": True,
        "availability_zone_profile_id": profile["id"],
    }
    page = c.get(ZONES, params={"sort": "name", "limit": 2}).json()
    assert [z["name"] for z in page["availability_zones"]] == ["az-a", "az-b"]
    nxt = c.get(page["availability_zones_links"][0]["href"]).json()
    assert [z["name"] for z in nxt["availability_zones"]] == ["az-c"]
    assert c.get(ZONES, params={"marker": "nope"}).status_code == 400
    assert c.get(ZONES, params={"enabled": "true", "fields": "name"}).status_code == 200
    r = c.put(f"{ZONES}/az-a", json={"availability_zone": {"description": "d", "enabled": False}})
    assert r.status_code == 200 and r.json()["availability_zone"]["enabled"] is False
    assert c.put(f"{ZONES}/az-a", json={"availability_zone": {"name": "x"}}).status_code == 400
    assert c.get(f"{ZONES}/az-a", headers=MEMBER).status_code == 200
    assert c.delete(f"{ZONES}/az-a", headers=MEMBER).status_code == 403
    r = c.post(
        "/v2/lbaas/loadbalancers",
        json={"loadbalancer": {"vip_subnet_id": "public", "availability_zone": "az-a"}},
    )
    assert r.status_code == 400
    lb = portus.create_lb(availability_zone="az-b")
    r = c.delete(f"{ZONES}/az-b")
    assert r.status_code == 409 and "in use" in fault(r)
    r = c.put(
        f"{PROFILES}/{profile['id']}",
        json={"availability_zone_profile": {"availability_zone_data": "{}"}},
    )
    assert r.status_code == 409
    assert c.delete(f"{PROFILES}/{profile['id']}").status_code == 409
    c.delete(f"/v2/lbaas/loadbalancers/{lb['id']}")
    portus.wait_lb(lb["id"], "DELETED")
    for name in ("az-a", "az-b", "az-c"):
        assert c.delete(f"{ZONES}/{name}").status_code == 204
    assert c.get(f"{ZONES}/az-a").status_code == 404
    assert c.delete(f"{PROFILES}/{profile['id']}").status_code == 204


def test_openstack_cli(portus: Portus) -> None:
    profile = openstack(
        portus,
        "availabilityzoneprofile",
        "create",
        "--name",
        "azp",
        "--provider",
        "noop",
        "--availability-zone-data",
        '{"compute_zone": "r1"}',
        "-f",
        "json",
    )
    listed = openstack(portus, "availabilityzoneprofile", "list", "-f", "json")
    assert [x["id"] for x in listed] == [profile["id"]]
    openstack(portus, "availabilityzoneprofile", "set", "--name", "azp2", profile["id"])
    shown = openstack(portus, "availabilityzoneprofile", "show", profile["id"], "-f", "json")
    assert shown["name"] == "azp2"
    zone = openstack(
        portus,
        "availabilityzone",
        "create",
        "--name",
        "zone1",
        "--availabilityzoneprofile",
        profile["id"],
        "--description",
        "d",
        "-f",
        "json",
    )
    assert zone["enabled"] is True
    openstack(portus, "availabilityzone", "set", "--disable", "zone1")
    assert openstack(portus, "availabilityzone", "show", "zone1", "-f", "json")["enabled"] is False
    openstack(portus, "availabilityzone", "unset", "--description", "zone1")
    assert openstack(portus, "availabilityzone", "show", "zone1", "-f", "json")["description"] == ""
    assert [x["name"] for x in openstack(portus, "availabilityzone", "list", "-f", "json")] == [
        "zone1"
    ]
    openstack(portus, "availabilityzone", "delete", "zone1")
    openstack(portus, "availabilityzoneprofile", "delete", profile["id"])
    assert openstack(portus, "availabilityzoneprofile", "list", "-f", "json") == []
