"""Providers and their capabilities through the HTTP API (and the openstack CLI)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.osc import openstack
from tests.support.portus_app import Portus

PROVIDERS = "/v2/lbaas/providers"
MEMBER = {"X-Project-Id": "p1", "X-Roles": "member"}


@pytest.fixture
def with_amphora(portus_module: Portus) -> Iterator[Portus]:
    """The API as it is when the amphora driver is enabled (no LB is built with it here)."""
    svc = portus_module.app.state.services
    before = svc.enabled_providers
    svc.enabled_providers = (*before, "amphora")
    try:
        yield portus_module
    finally:
        svc.enabled_providers = before


def test_list_enabled_providers(portus_module: Portus) -> None:
    r = portus_module.client.get(PROVIDERS)
    assert r.status_code == 200
    providers = r.json()["providers"]
    assert [p["name"] for p in providers] == ["noop"]
    assert providers[0]["description"]
    assert "providers_links" not in r.json()
    assert portus_module.client.get(PROVIDERS, headers=MEMBER).status_code == 200


def test_octavia_alias_with_amphora(with_amphora: Portus) -> None:
    providers = with_amphora.client.get(PROVIDERS).json()["providers"]
    assert [p["name"] for p in providers] == ["noop", "amphora", "octavia"]
    got = with_amphora.client.get(PROVIDERS, params={"name": "octavia"}).json()["providers"]
    assert got == [{"name": "octavia", "description": "Deprecated alias of the amphora driver."}]
    got = with_amphora.client.get(PROVIDERS, params={"fields": "name"}).json()["providers"]
    assert got == [{"name": "noop"}, {"name": "amphora"}, {"name": "octavia"}]


def test_amphora_capabilities(with_amphora: Portus) -> None:
    c = with_amphora.client
    caps = c.get(f"{PROVIDERS}/amphora/flavor_capabilities").json()["flavor_capabilities"]
    assert [x["name"] for x in caps] == [
        "loadbalancer_topology",
        "compute_flavor",
        "amp_image_tag",
        "sriov_vip",
        "allow_member_sriov",
    ]
    assert all(x["description"] for x in caps)
    az = c.get(f"{PROVIDERS}/octavia/availability_zone_capabilities").json()
    assert [x["name"] for x in az["availability_zone_capabilities"]] == [
        "compute_zone",
        "volume_zone",
        "management_network",
        "valid_vip_networks",
    ]
    one = c.get(
        f"{PROVIDERS}/amphora/flavor_capabilities",
        params={"name": "sriov_vip", "fields": "name"},
    ).json()
    assert one == {"flavor_capabilities": [{"name": "sriov_vip"}]}


def test_noop_capabilities_and_errors(portus_module: Portus) -> None:
    c = portus_module.client
    caps = c.get(f"{PROVIDERS}/noop/flavor_capabilities").json()["flavor_capabilities"]
    assert "loadbalancer_topology" in [x["name"] for x in caps]
    r = c.get(f"{PROVIDERS}/amphora/flavor_capabilities")
    assert r.status_code == 400
    assert r.json()["faultstring"] == "Provider 'amphora' is not enabled."
    assert c.get(f"{PROVIDERS}/bogus/availability_zone_capabilities").status_code == 400
    r = c.get(f"{PROVIDERS}/noop/flavor_capabilities", headers=MEMBER)
    assert r.status_code == 403
    assert c.get(f"{PROVIDERS}/noop/flavor_capabilities", params={"x": "1"}).status_code == 400


def test_openstack_cli(with_amphora: Portus) -> None:
    listed = openstack(with_amphora, "provider", "list", "-f", "json")
    assert [x["name"] for x in listed] == ["noop", "amphora", "octavia"]
    caps = openstack(with_amphora, "provider", "capability", "list", "amphora", "-f", "json")
    names = {(x.get("type"), x["name"]) for x in caps}
    assert ("flavor", "loadbalancer_topology") in names
    assert ("availability_zone", "compute_zone") in names
