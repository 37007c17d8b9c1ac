"""Fixtures for real data-plane tests: bridges, backend servers and an agent, all torn down.

Everything created here is named ``portus-...`` and lives in 10.254.<n>.0/24 on a bridge the
fixture owns, so tests never touch the host's real networks.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from agent_helpers import Backend, Net, backend_server

from portus.agent import netns
from portus.agent.agent import Agent

HAVE_DATAPLANE = os.geteuid() == 0 and shutil.which("haproxy") is not None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("dataplane") and not HAVE_DATAPLANE:
            item.add_marker(pytest.mark.skip(reason="needs root and haproxy"))


def _free_subnet() -> str:
    for _ in range(50):
        n = random.randint(100, 250)
        routes = subprocess.run(
            ["ip", "route", "show", f"10.254.{n}.0/24"], capture_output=True, text=True
        ).stdout
        if not routes.strip():
            return f"10.254.{n}"
    raise RuntimeError("no free 10.254.x.0/24 test subnet")


@pytest.fixture
def testnet() -> Iterator[Net]:
    name = f"portus-t{random.randbytes(3).hex()}"
    net = Net(name, _free_subnet())
    netns.ensure_bridge(name, f"{net.gateway}/24")
    try:
        yield net
    finally:
        netns.delete_bridge(name)


@pytest.fixture
def agent() -> Iterator[Agent]:
    state = Path(tempfile.mkdtemp(prefix="portus-t-", dir="/tmp"))
    a = Agent(state)
    try:
        yield a
    finally:
        for info in a.list_amphorae():
            a.delete_amphora(info.id)
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture
def backends(testnet: Net) -> Iterator[tuple[Backend, Backend]]:
    with backend_server(testnet, 21, "be1") as b1, backend_server(testnet, 22, "be2") as b2:
        yield b1, b2
