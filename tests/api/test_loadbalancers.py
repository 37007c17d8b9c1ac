"""Load balancers through the HTTP API: what a client sees."""

from __future__ import annotations

from tests.support.portus_app import Portus

LBS = "/v2/lbaas/loadbalancers"


def test_create_goes_active_with_vip_from_public_subnet(portus: Portus) -> None:
    r = portus.client.post(LBS, json={"loadbalancer": {"vip_subnet_id": "public", "name": "web"}})
    assert r.status_code == 201
    body = r.json()["loadbalancer"]
    assert body["provisioning_status"] == "PENDING_CREATE"
    assert body["operating_status"] == "OFFLINE"
    assert body["tenant_id"] == body["project_id"]
    assert body["updated_at"] is None
    lb = portus.wait_lb(body["id"])
    assert lb["vip_address"].startswith("10.255.0.")
    assert lb["vip_subnet_id"] == "public" and lb["vip_network_id"] == "public"
    assert lb["name"] == "web" and lb["description"] == ""


def test_unknown_attribute_and_missing_vip_are_400(portus: Portus) -> None:
    r = portus.client.post(LBS, json={"loadbalancer": {"vip_subnet_id": "public", "bogus": 1}})
    assert r.status_code == 400
    assert r.json() == {
        "faultcode": "Client",
        "faultstring": "Unknown attribute for argument loadbalancer: bogus",
        "debuginfo": None,
    }
    r = portus.client.post(LBS, json={"loadbalancer": {"name": "x"}})
    assert r.status_code == 400
    assert "VIP must contain one of" in r.json()["faultstring"]
    assert portus.client.get(LBS).json()["loadbalancers"] == []


def test_requested_vip_in_use_is_409(portus: Portus) -> None:
    portus.create_lb(vip_address="10.255.0.50")
    r = portus.client.post(
        LBS, json={"loadbalancer": {"vip_subnet_id": "public", "vip_address": "10.255.0.50"}}
    )
    assert r.status_code == 409
    assert "already in use" in r.json()["faultstring"]


def test_update_and_delete(portus: Portus) -> None:
    lb = portus.create_lb(name="a")
    r = portus.client.put(f"{LBS}/{lb['id']}", json={"loadbalancer": {"name": "b", "tags": ["x"]}})
    assert r.status_code == 200
    assert r.json()["loadbalancer"]["name"] == "b"
    lb = portus.wait_lb(lb["id"])
    assert lb["tags"] == ["x"] and lb["updated_at"] is not None
    r = portus.client.put(f"{LBS}/{lb['id']}", json={"loadbalancer": {"vip_address": "1.2.3.4"}})
    assert r.status_code == 400
    assert portus.client.delete(f"{LBS}/{lb['id']}").status_code == 204
    portus.wait_lb(lb["id"], "DELETED")
    assert portus.client.get(f"{LBS}/{lb['id']}").status_code == 404
    assert portus.client.delete(f"{LBS}/{lb['id']}").status_code == 404


def test_writes_while_pending_are_accepted_and_coalesced(portus: Portus) -> None:
    lb = portus.create_lb()
    for i in range(5):
        r = portus.client.put(f"{LBS}/{lb['id']}", json={"loadbalancer": {"name": f"n{i}"}})
        assert r.status_code == 200
    final = portus.wait_lb(lb["id"])
    assert final["name"] == "n4"


def names(portus: Portus, **params: object) -> list[str]:
    r = portus.client.get(LBS, params=params)
    assert r.status_code == 200, r.text
    return [x["name"] for x in r.json()["loadbalancers"]]


def test_list_pagination_sorting_filters_fields_and_tags(portus: Portus) -> None:
    for i in range(5):
        portus.create_lb(name=f"lb{i}", tags=["even" if i % 2 == 0 else "odd", "all"])
    page = portus.client.get(LBS, params={"limit": 2, "sort": "name:asc"}).json()
    assert [x["name"] for x in page["loadbalancers"]] == ["lb0", "lb1"]
    assert [link["rel"] for link in page["loadbalancers_links"]] == ["next"]
    nxt = httpx_get(portus, page["loadbalancers_links"][0]["href"])
    assert [x["name"] for x in nxt["loadbalancers"]] == ["lb2", "lb3"]
    links = {link["rel"]: link["href"] for link in nxt["loadbalancers_links"]}
    assert set(links) == {"next", "previous"}
    prev = httpx_get(portus, links["previous"])
    assert [x["name"] for x in prev["loadbalancers"]] == ["lb0", "lb1"]
    r = portus.client.get(LBS, params={"sort_key": "name", "sort_dir": "desc", "fields": "name"})
    assert r.json()["loadbalancers"][0] == {"name": "lb4"}
    assert names(portus, name="lb3") == ["lb3"]
    assert len(names(portus, tags="even,all")) == 3
    assert len(names(portus, **{"not-tags": "even"})) == 2
    assert len(names(portus, **{"tags-any": "odd,nope"})) == 2
    assert names(portus, **{"not-tags-any": "odd,even"}) == []
    assert portus.client.get(LBS, params={"sort": "bogus:asc"}).status_code == 400
    assert portus.client.get(LBS, params={"marker": "nope"}).status_code == 400
    assert portus.client.get(LBS, params={"bogus": "1"}).status_code == 400


def httpx_get(portus: Portus, href: str) -> dict:  # type: ignore[type-arg]
    r = portus.client.get(href)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_version_discovery_and_aliases(portus: Portus) -> None:
    versions = portus.client.get("/").json()["versions"]
    assert versions[-1]["id"] == "v2.30" and versions[-1]["status"] == "CURRENT"
    assert all(v["status"] == "SUPPORTED" for v in versions[:-1])
    assert portus.client.get("/v2").json() == "v2"
    assert portus.client.get("/v2.0/lbaas/loadbalancers").status_code == 200
    assert portus.client.get("/v2/lbaas/loadbalancers.json").status_code == 200
    r = portus.client.get("/v2/lbaas/loadbalancers", headers={"accept": "application/xml"})
    assert r.status_code == 406
