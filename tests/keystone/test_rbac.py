"""Octavia's role model and project scoping, with tokens from a real Keystone.

Portus runs with ``auth_strategy=keystone`` (keystonemiddleware validating every token against
the Keystone the test starts); users in two projects carry the load-balancer_* roles.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.cli import KeystoneLogin, run_openstack_keystone
from tests.support.keystone import KeystoneInfo, User, keystone_installed, running_keystone
from tests.support.portus_app import Portus, keystone_portus

pytestmark = [
    pytest.mark.keystone,
    pytest.mark.slow,
    pytest.mark.skipif(not keystone_installed(), reason="no .venv-keystone: run ./dev install"),
]

LBS = "/v2/lbaas/loadbalancers"


@pytest.fixture(scope="module")
def keystone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeystoneInfo]:
    with running_keystone(tmp_path_factory.mktemp("ks")) as info:
        yield info


@pytest.fixture(scope="module")
def portus(keystone: KeystoneInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portus]:
    with keystone_portus(keystone, tmp_path_factory.mktemp("portus")) as p:
        yield p


@pytest.fixture(scope="module")
def users(keystone: KeystoneInfo) -> dict[str, User]:
    keystone.create_role("unrelated")
    return {
        "member1": keystone.create_user("m1", "proj1", roles=["load-balancer_member"]),
        "member2": keystone.create_user("m2", "proj2", roles=["load-balancer_member"]),
        "observer1": keystone.create_user("o1", "proj1", roles=["load-balancer_observer"]),
        "global": keystone.create_user("g", "proj3", roles=["load-balancer_global_observer"]),
        "quota": keystone.create_user("q", "proj3", roles=["load-balancer_quota_admin"]),
        "admin": keystone.create_user("a", "proj3", roles=["load-balancer_admin"]),
        "nobody": keystone.create_user("n", "proj1", roles=["unrelated"]),
    }


def as_user(portus: Portus, keystone: KeystoneInfo, user: User) -> httpx.Client:
    token = keystone.user_token(user)
    return httpx.Client(base_url=portus.url, headers={"X-Auth-Token": token}, timeout=30)


def test_no_token_or_a_bad_one_is_401(portus: Portus) -> None:
    assert portus.client.get(LBS).status_code == 401
    r = portus.client.get(LBS, headers={"X-Auth-Token": "not-a-token"})
    assert r.status_code == 401
    assert portus.client.get("/").status_code == 200  # version discovery needs no token


def test_identity_headers_from_the_client_are_ignored(
    portus: Portus, keystone: KeystoneInfo, users: dict[str, User]
) -> None:
    with as_user(portus, keystone, users["observer1"]) as c:
        r = c.post(
            LBS,
            json={"loadbalancer": {"vip_subnet_id": "public"}},
            headers={"X-Roles": "admin", "X-Project-Id": "proj2"},
        )
    assert r.status_code == 403


def test_members_are_scoped_to_their_project(
    portus: Portus, keystone: KeystoneInfo, users: dict[str, User]
) -> None:
    with (
        as_user(portus, keystone, users["member1"]) as m1,
        as_user(portus, keystone, users["member2"]) as m2,
    ):
        r = m1.post(LBS, json={"loadbalancer": {"vip_subnet_id": "public", "name": "one"}})
        assert r.status_code == 201, r.text
        lb = r.json()["loadbalancer"]
        assert lb["project_id"] == users["member1"].project_id
        portus.wait_for_with(m1, f"{LBS}/{lb['id']}", "loadbalancer")
        assert [x["id"] for x in m1.get(LBS).json()["loadbalancers"]] == [lb["id"]]
        assert m2.get(LBS).json()["loadbalancers"] == []
        assert m2.get(f"{LBS}/{lb['id']}").status_code == 403
        assert m2.put(f"{LBS}/{lb['id']}", json={"loadbalancer": {"name": "x"}}).status_code == 403
        assert m2.delete(f"{LBS}/{lb['id']}").status_code == 403
        r = m2.post(
            LBS,
            json={"loadbalancer": {"vip_subnet_id": "public", "project_id": "proj1"}},
        )
        assert r.status_code == 403


def test_observer_reads_but_does_not_write(
    portus: Portus, keystone: KeystoneInfo, users: dict[str, User]
) -> None:
    with as_user(portus, keystone, users["observer1"]) as o1:
        assert o1.get(LBS).status_code == 200
        r = o1.post(LBS, json={"loadbalancer": {"vip_subnet_id": "public"}})
        assert r.status_code == 403
        assert r.json()["faultstring"] == "Policy does not allow this request to be performed."
    with as_user(portus, keystone, users["nobody"]) as n:
        assert n.get(LBS).status_code == 403


def test_global_observer_sees_every_project_and_admin_acts_on_any(
    portus: Portus, keystone: KeystoneInfo, users: dict[str, User]
) -> None:
    with as_user(portus, keystone, users["member2"]) as m2:
        r = m2.post(LBS, json={"loadbalancer": {"vip_subnet_id": "public", "name": "two"}})
        lb = r.json()["loadbalancer"]
        portus.wait_for_with(m2, f"{LBS}/{lb['id']}", "loadbalancer")
    with as_user(portus, keystone, users["global"]) as g:
        projects = {x["project_id"] for x in g.get(LBS).json()["loadbalancers"]}
        assert users["member2"].project_id in projects
        assert g.put(f"{LBS}/{lb['id']}", json={"loadbalancer": {"name": "x"}}).status_code == 403
    with as_user(portus, keystone, users["admin"]) as a:
        r = a.put(f"{LBS}/{lb['id']}", json={"loadbalancer": {"name": "renamed"}})
        assert r.status_code == 200
        assert a.put(f"{LBS}/{lb['id']}/failover").status_code == 202
    with as_user(portus, keystone, users["member2"]) as m2:
        assert m2.put(f"{LBS}/{lb['id']}/failover").status_code == 403


def test_quotas_need_the_quota_admin_and_are_enforced(
    portus: Portus, keystone: KeystoneInfo, users: dict[str, User]
) -> None:
    target = users["member1"].project_id
    body = {"quota": {"loadbalancer": 1}}
    with as_user(portus, keystone, users["member1"]) as m1:
        assert m1.put(f"/v2/lbaas/quotas/{target}", json=body).status_code == 403
    with as_user(portus, keystone, users["quota"]) as q:
        r = q.put(f"/v2/lbaas/quotas/{target}", json=body)
        assert r.status_code == 202, r.text
    with as_user(portus, keystone, users["member1"]) as m1:
        r = m1.post(LBS, json={"loadbalancer": {"vip_subnet_id": "public"}})
        assert r.status_code == 403
        assert r.json()["faultstring"] == "Quota has been met for resources: Load Balancer"
    with as_user(portus, keystone, users["quota"]) as q:
        assert q.delete(f"/v2/lbaas/quotas/{target}").status_code == 202


def test_flavors_are_admin_writes(
    portus: Portus, keystone: KeystoneInfo, users: dict[str, User]
) -> None:
    profile = {"flavorprofile": {"name": "p", "provider_name": "noop", "flavor_data": "{}"}}
    with as_user(portus, keystone, users["member1"]) as m1:
        assert m1.post("/v2/lbaas/flavorprofiles", json=profile).status_code == 403
        assert m1.get("/v2/lbaas/flavors").status_code == 200
    with as_user(portus, keystone, users["admin"]) as a:
        assert a.post("/v2/lbaas/flavorprofiles", json=profile).status_code == 201


def test_openstack_cli_with_a_keystone_login(
    portus: Portus, keystone: KeystoneInfo, users: dict[str, User], tmp_path: Path
) -> None:
    user = users["member1"]
    login = KeystoneLogin(keystone.auth_url, user.name, user.password, user.project_name)
    created = run_openstack_keystone(
        login,
        "loadbalancer",
        "create",
        "--name",
        "cli",
        "--vip-subnet-id",
        "public",
        "--wait",
    )
    assert isinstance(created, dict)
    assert created["provisioning_status"] == "ACTIVE"
    listed = run_openstack_keystone(login, "loadbalancer", "list")
    assert isinstance(listed, list)
    assert "cli" in {x["name"] for x in listed}
