"""Render-test plumbing: ``--regen-golden`` and a throwaway network namespace for ``nft -c``."""

from __future__ import annotations

import secrets
import shutil
import subprocess
from collections.abc import Iterator

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--regen-golden",
        action="store_true",
        default=False,
        help="rewrite tests/render/golden/* from the current renderers instead of comparing",
    )


@pytest.fixture(scope="session")
def regen_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--regen-golden", default=False))


@pytest.fixture(scope="session")
def portus_netns() -> Iterator[str]:
    """A fresh, empty namespace (``portus-test-<rand>``) so ``nft -c`` never sees the host."""
    if shutil.which("ip") is None or shutil.which("nft") is None:
        pytest.skip("needs iproute2 and nftables")
    name = f"portus-test-{secrets.token_hex(4)}"
    created = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if created.returncode != 0:
        pytest.skip(f"cannot create a network namespace: {created.stderr.strip()}")
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=False)


@pytest.fixture(scope="session")
def portus_netns_with_vip_link(portus_netns: str) -> str:
    """The test namespace with a ``portus-vip`` link (a veth pair living only inside the
    namespace, so it goes away with it), the VRRP interface of the cases."""
    link = ["link", "add", "portus-vip", "type", "veth", "peer", "name", "portus-vipp"]
    subprocess.run(["ip", "-n", portus_netns, *link], check=True)
    return portus_netns
