"""Amphora lifecycle on a real host: creation plumbing and a delete that leaves nothing."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest
from agent_helpers import Net

from portus.agent import cgroups, netns
from portus.agent.agent import Agent
from portus.agent.errors import AlreadyExists, NotFound
from portus.agent.model import AmphoraSpec, Limits, NetworkAttachment, RenderedFiles

pytestmark = pytest.mark.dataplane

AMP = "c0ffee42-1111-4222-8333-000000000002"


def host_snapshot() -> dict[str, set[str]]:
    """What an amphora could leave behind: namespaces, links, cgroups, haproxy processes."""
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    procs = subprocess.run(["ps", "-eo", "pid,stat,comm"], capture_output=True, text=True).stdout
    cgroup_dirs = {
        str(p)
        for ctrl in ("cpu", "memory", "pids", ".")
        for p in (cgroups.CGROUP_ROOT / ctrl / "portus").glob("*")
    }
    return {
        "netns": {line.split()[0] for line in namespaces.splitlines() if line.strip()},
        "links": {line.split(":")[1].strip().split("@")[0] for line in links.splitlines()},
        "cgroups": cgroup_dirs,
        # Exited processes not yet reaped by this container's init (stat Z) do not count.
        "haproxy": {
            pid
            for pid, stat, comm in (line.split(None, 2) for line in procs.splitlines()[1:])
            if comm.strip() == "haproxy" and not stat.startswith("Z")
        },
    }


def test_create_plumbs_namespace_leg_and_route(agent: Agent, testnet: Net) -> None:
    info = agent.create_amphora(AmphoraSpec(AMP, (testnet.leg(10),)))
    assert info.netns == "portus-amp-c0ffee42"
    assert [i.host_name for i in info.interfaces] == ["pac0ffee420"]
    addrs = subprocess.run(
        ["ip", "-n", info.netns, "-br", "addr", "show", "eth0"], capture_output=True, text=True
    ).stdout
    assert f"{testnet.addr(10)}/24" in addrs
    route = subprocess.run(
        ["ip", "-n", info.netns, "route", "show", "default"], capture_output=True, text=True
    ).stdout
    assert f"via {testnet.gateway}" in route
    # The host reaches the amphora through the bridge: a closed port answers with a reset.
    with socket.socket() as sock, pytest.raises(ConnectionRefusedError):
        sock.settimeout(2)
        sock.connect((testnet.addr(10), 9))


def test_create_is_idempotent_and_conflicts_are_reported(agent: Agent, testnet: Net) -> None:
    spec = AmphoraSpec(AMP, (testnet.leg(10),))
    assert agent.create_amphora(spec) == agent.create_amphora(spec)
    with pytest.raises(AlreadyExists):
        agent.create_amphora(AmphoraSpec(AMP, (testnet.leg(11),)))


def test_unknown_amphora_is_not_found(agent: Agent) -> None:
    with pytest.raises(NotFound):
        agent.status("deadbeef-0000")
    with pytest.raises(NotFound):
        agent.apply("deadbeef-0000", RenderedFiles(haproxy_cfg=""))


def test_delete_leaves_nothing_behind(agent: Agent, testnet: Net) -> None:
    before = host_snapshot()
    info = agent.create_amphora(
        AmphoraSpec(AMP, (testnet.leg(10),), Limits(cpus=1.0, pids_max=200))
    )
    cfg = "\n".join(
        [
            "global",
            "    master-worker",
            f"    stats socket {info.run_dir}/stats.sock level admin expose-fd listeners",
            "defaults",
            "    mode tcp",
            "    timeout connect 1s",
            "    timeout client 1s",
            "    timeout server 1s",
            "frontend fe",
            f"    bind {testnet.addr(10)}:80",
            "",
        ]
    )
    assert agent.apply(AMP, RenderedFiles(haproxy_cfg=cfg)).error is None
    during = host_snapshot()
    assert during["haproxy"] - before["haproxy"]
    assert netns.netns_exists(info.netns)

    agent.delete_amphora(AMP)
    assert host_snapshot() == before
    assert not Path(info.run_dir).exists()
    assert agent.list_amphorae() == []
    agent.delete_amphora(AMP)  # deleting twice is fine


def test_ipv6_leg(agent: Agent, testnet: Net) -> None:
    prefix = f"fd00:254:{testnet.prefix.rsplit('.', 1)[1]}::"
    netns.ensure_bridge(testnet.bridge, f"{prefix}1/64")
    leg = NetworkAttachment(testnet.bridge, f"{prefix}10", 64, f"{prefix}1")
    agent.create_amphora(AmphoraSpec(AMP, (leg,)))
    with socket.socket(socket.AF_INET6) as sock, pytest.raises(ConnectionRefusedError):
        sock.settimeout(3)
        sock.connect((f"{prefix}10", 9))
