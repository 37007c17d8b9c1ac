"""run_openstack drives the real openstack CLI against a real `portus up` (noauth)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import OpenstackCLIError, run_openstack
from tests.support.paths import venv_bin
from tests.support.portus_proc import PortusProcess

pytestmark = pytest.mark.skipif(
    not (venv_bin("portus").exists() and venv_bin("openstack").exists()),
    reason="portus or the openstack CLI is not installed",
)


@pytest.fixture(scope="module")
def portus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PortusProcess]:
    state = tmp_path_factory.mktemp("portus-cli")
    with PortusProcess(["up", "--provider", "noop"], state_dir=state) as proc:
        yield proc


def test_list_returns_parsed_json(portus: PortusProcess) -> None:
    providers = run_openstack(portus.url, "loadbalancer", "provider", "list")
    assert isinstance(providers, list)
    assert "noop" in {p["name"] for p in providers}


def test_failure_raises_with_the_cli_message(portus: PortusProcess) -> None:
    with pytest.raises(OpenstackCLIError) as err:
        run_openstack(portus.url, "loadbalancer", "show", "no-such-lb")
    assert err.value.returncode != 0
    assert "no-such-lb" in err.value.stderr


def test_commands_without_output_return_text(portus: PortusProcess, tmp_path: Path) -> None:
    """`set` prints no table: the helper retries without -f json and returns the text."""
    lb = run_openstack(
        portus.url, "loadbalancer", "create", "--name", "cli-lb", "--vip-subnet-id", "public"
    )
    assert lb["name"] == "cli-lb"
    assert run_openstack(portus.url, "loadbalancer", "set", "--description", "d", lb["id"]) == ""
    shown = run_openstack(portus.url, "loadbalancer", "show", lb["id"])
    assert shown["description"] == "d"
