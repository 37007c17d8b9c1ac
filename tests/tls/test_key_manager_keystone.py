"""With Keystone, the built-in store is the catalog's ``key-manager`` service: ``openstack secret
store`` with a password login finds it there, and secrets stay in the caller's project."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.cli import KeystoneLogin, run_openstack_keystone
from tests.support.keystone import KeystoneInfo, User, keystone_installed, running_keystone
from tests.support.portus_app import Portus, keystone_portus

from tls_certgen import CA

pytestmark = [
    pytest.mark.keystone,
    pytest.mark.slow,
    pytest.mark.skipif(not keystone_installed(), reason="no .venv-keystone: run ./dev install"),
]


@pytest.fixture(scope="module")
def keystone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeystoneInfo]:
    with running_keystone(tmp_path_factory.mktemp("ks")) as info:
        yield info


@pytest.fixture(scope="module")
def portus(keystone: KeystoneInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portus]:
    with keystone_portus(keystone, tmp_path_factory.mktemp("portus")) as p:
        yield p


def login(keystone: KeystoneInfo, user: User) -> KeystoneLogin:
    return KeystoneLogin(keystone.auth_url, user.name, user.password, user.project_name)


def test_openstack_secret_store_with_a_keystone_login(
    portus: Portus, keystone: KeystoneInfo, tmp_path: Path
) -> None:
    owner = keystone.create_user("km1", "kmproj1", roles=["load-balancer_member", "member"])
    other = keystone.create_user("km2", "kmproj2", roles=["load-balancer_member", "member"])
    leaf = CA().issue("ks.example.com")
    (tmp_path / "bundle.pem").write_bytes(leaf.bundle_pem())

    stored = run_openstack_keystone(
        login(keystone, owner), "secret", "store", "--name", "bundle",
        "--file", str(tmp_path / "bundle.pem"),
    )  # fmt: skip
    ref = stored["Secret href"]
    assert ref.startswith(portus.url + "/key-manager/v1/secrets/")

    # The secret belongs to the owner's project: readable there, invisible elsewhere.
    def client(user: User) -> httpx.Client:
        token = keystone.user_token(user)
        return httpx.Client(base_url=portus.url, headers={"X-Auth-Token": token}, timeout=30)

    with client(owner) as mine, client(other) as theirs:
        assert mine.get(ref).json()["name"] == "bundle"
        assert mine.get(ref + "/payload").content == leaf.bundle_pem()
        assert theirs.get(ref).status_code == 404
        assert theirs.get("/key-manager/v1/secrets").json()["secrets"] == []
    with httpx.Client(base_url=portus.url, timeout=30) as anonymous:
        assert anonymous.get(ref).status_code == 401
