"""A real Keystone starts, issues tokens for users the tests create, and validates them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.cli import KeystoneLogin, run_openstack_keystone
from tests.support.keystone import ALL_ROLES, KeystoneInfo, keystone_installed, running_keystone
from tests.support.paths import venv_bin
from tests.support.ports import free_port
from tests.support.portus_proc import PortusProcess

pytestmark = [
    pytest.mark.keystone,
    pytest.mark.slow,
    pytest.mark.skipif(not keystone_installed(), reason="no .venv-keystone: run ./dev install"),
]


@pytest.fixture(scope="module")
def keystone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeystoneInfo]:
    with running_keystone(tmp_path_factory.mktemp("ks")) as info:
        yield info


def test_admin_gets_a_token_that_validates(keystone: KeystoneInfo) -> None:
    token = keystone.token(keystone.admin_username, keystone.admin_password, "admin")
    body = keystone.validate(token)
    assert body["user"]["name"] == "admin"
    assert body["project"]["name"] == "admin"
    assert "admin" in {r["name"] for r in body["roles"]}


def test_all_octavia_roles_exist(keystone: KeystoneInfo) -> None:
    for role in ALL_ROLES:
        assert keystone.role_id(role)


def test_user_with_octavia_role_in_a_project(keystone: KeystoneInfo) -> None:
    user = keystone.create_user("alice", "tenant-a", roles=["load-balancer_member", "member"])
    token = keystone.user_token(user)
    body = keystone.validate(token)
    assert body["project"]["id"] == user.project_id
    assert {r["name"] for r in body["roles"]} >= {"load-balancer_member", "member"}
    # Implied roles: member implies reader, as in a real cloud.
    assert "reader" in {r["name"] for r in body["roles"]}


def test_wrong_password_and_revoked_token_are_refused(keystone: KeystoneInfo) -> None:
    user = keystone.create_user("bob", "tenant-b", roles=["load-balancer_observer"])
    with pytest.raises(httpx.HTTPStatusError) as err:
        keystone.token(user.name, "not-the-password", user.project_name)
    assert err.value.response.status_code == 401
    token = keystone.user_token(user)
    keystone.revoke(token)
    with pytest.raises(httpx.HTTPStatusError) as err:
        keystone.validate(token)
    assert err.value.response.status_code == 404


def test_keystoneauth1_session_works_against_it(keystone: KeystoneInfo) -> None:
    """The client library the openstack CLI and keystonemiddleware use gets a token too."""
    from keystoneauth1 import session
    from keystoneauth1.identity import v3

    user = keystone.create_user("carol", "tenant-c", roles=["load-balancer_admin"])
    auth = v3.Password(
        auth_url=keystone.auth_url,
        username=user.name,
        password=user.password,
        project_name=user.project_name,
        user_domain_id="default",
        project_domain_id="default",
    )
    sess = session.Session(auth=auth)
    token = sess.get_token()
    assert keystone.validate(token)["user"]["id"] == user.id
    assert sess.get_project_id() == user.project_id


def test_service_user_can_validate_other_tokens(keystone: KeystoneInfo) -> None:
    """keystonemiddleware validates users' tokens with the service user's own token."""
    service_token = keystone.token(
        keystone.service_username, keystone.service_password, keystone.service_project
    )
    user = keystone.create_user("dave", "tenant-d", roles=["load-balancer_member"])
    resp = httpx.get(
        f"{keystone.auth_url}/auth/tokens",
        headers={"X-Auth-Token": service_token, "X-Subject-Token": keystone.user_token(user)},
    )
    assert resp.status_code == 200
    assert resp.json()["token"]["user"]["name"] == "dave"


def test_registered_service_appears_in_the_catalog(keystone: KeystoneInfo) -> None:
    # Not `load-balancer`: the Keystone is shared by this module and a later test puts Portus there.
    keystone.register_service("example", "http://127.0.0.1:9876")
    user = keystone.create_user("erin", "tenant-e", roles=["load-balancer_member"])
    _, body = keystone.token_with_body(user.name, user.password, user.project_name)
    catalog = {s["type"]: s for s in body["token"]["catalog"]}
    urls = {e["url"] for e in catalog["example"]["endpoints"]}
    assert urls == {"http://127.0.0.1:9876"}


def test_keystone_is_gone_after_the_block(tmp_path: Path) -> None:
    with running_keystone(tmp_path) as info:
        url = info.auth_url
        assert httpx.get(url).status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(url, timeout=2)


@pytest.mark.skipif(not venv_bin("portus").exists(), reason="portus is not installed")
def test_openstack_cli_reaches_portus_through_keystone(
    keystone: KeystoneInfo, tmp_path: Path
) -> None:
    """The whole keystone-auth path: CLI login, catalog lookup, keystonemiddleware in Portus."""
    port = free_port()
    keystone.register_portus(f"http://127.0.0.1:{port}")
    env = {
        "PORTUS_KEYSTONE_AUTH_URL": keystone.auth_url,
        "PORTUS_KEYSTONE_CONFIG": json.dumps(keystone.middleware_config()),
    }
    args = ["up", "--provider", "noop", "--auth-strategy", "keystone"]
    with PortusProcess(args, env=env, state_dir=tmp_path, port=port) as portus:
        user = keystone.create_user("frank", "tenant-f", roles=["load-balancer_member", "member"])
        login = KeystoneLogin(keystone.auth_url, user.name, user.password, user.project_name)
        assert run_openstack_keystone(login, "loadbalancer", "list") == []
        anonymous = httpx.get(f"{portus.url}/v2/lbaas/loadbalancers")
        assert anonymous.status_code == 401
