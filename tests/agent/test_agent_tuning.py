"""Host-side tuning of an amphora (dataplane.md §6): per-namespace sysctls and quickack routes
on member legs only."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from agent_helpers import Net

from portus.agent import netns
from portus.agent.agent import Agent
from portus.agent.model import AmphoraSpec, NetworkAttachment

pytestmark = pytest.mark.dataplane

AMP = "c0ffee42-1111-4222-8333-0000000000a9"


def sysctl_in(ns: str, key: str) -> str:
    out = subprocess.run(
        ["ip", "netns", "exec", ns, "sysctl", "-n", key], capture_output=True, text=True
    )
    return " ".join(out.stdout.split())


def routes(ns: str, dev: str, family: str = "-4") -> str:
    return subprocess.run(
        ["ip", family, "-n", ns, "route", "show", "dev", dev], capture_output=True, text=True
    ).stdout


def test_amphora_namespace_gets_the_sysctls_and_the_host_keeps_its_own(
    agent: Agent, testnet: Net
) -> None:
    host_before = Path("/proc/sys/net/core/somaxconn").read_text()
    info = agent.create_amphora(AmphoraSpec(AMP, (testnet.leg(10),)))
    assert sysctl_in(info.netns, "net.core.somaxconn") == "65535"
    assert sysctl_in(info.netns, "net.ipv4.tcp_max_syn_backlog") == "65535"
    assert sysctl_in(info.netns, "net.ipv4.ip_local_port_range") == "1024 65000"
    assert sysctl_in(info.netns, "net.ipv4.tcp_tw_reuse") == "1"
    # Only ACTIVE_STANDBY amphorae bind addresses they do not hold; elsewhere a wrong bind
    # must fail (and roll back) rather than succeed silently.
    assert sysctl_in(info.netns, "net.ipv4.ip_nonlocal_bind") == "0"
    assert sysctl_in(info.netns, "net.ipv4.ip_forward") == "1"
    assert Path("/proc/sys/net/core/somaxconn").read_text() == host_before


def test_quickack_only_on_member_legs(agent: Agent, testnet: Net) -> None:
    vip_leg = NetworkAttachment(testnet.bridge, testnet.addr(100), 25, testnet.gateway)
    member_leg = NetworkAttachment(testnet.bridge, testnet.addr(200), 25, quickack=True)
    info = agent.create_amphora(AmphoraSpec(AMP, (vip_leg, member_leg)))
    vip_routes, member_routes = routes(info.netns, "eth0"), routes(info.netns, "eth1")
    assert "quickack" not in vip_routes
    member_net = f"{testnet.prefix}.128/25"
    lines = [line for line in member_routes.splitlines() if line.startswith(member_net)]
    assert len(lines) == 1, member_routes  # replaced, not added beside the kernel's route
    assert "quickack 1" in lines[0]
    assert f"src {testnet.addr(200)}" in lines[0]


def test_quickack_on_an_ipv6_member_leg(agent: Agent, testnet: Net) -> None:
    prefix = f"fd00:254:{testnet.prefix.rsplit('.', 1)[1]}::"
    netns.ensure_bridge(testnet.bridge, f"{prefix}1/64")
    leg = NetworkAttachment(testnet.bridge, f"{prefix}10", 64, quickack=True)
    info = agent.create_amphora(AmphoraSpec(AMP, (leg,)))
    lines = [x for x in routes(info.netns, "eth0", "-6").splitlines() if x.startswith(prefix)]
    assert len(lines) == 1 and "quickack 1" in lines[0], lines


def test_a_recreated_amphora_keeps_its_mac_so_clients_arp_caches_stay_valid(
    agent: Agent, testnet: Net
) -> None:
    def mac() -> str:
        out = subprocess.run(
            ["ip", "-n", "portus-amp-c0ffee42", "-br", "link", "show", "eth0"],
            capture_output=True,
            text=True,
        ).stdout
        return out.split()[2]

    agent.create_amphora(AmphoraSpec(AMP, (testnet.leg(10),)))
    first = mac()
    agent.delete_amphora(AMP)
    agent.create_amphora(AmphoraSpec(AMP.replace("a9", "aa"), (testnet.leg(10),)))
    assert mac() == first == netns.leg_mac(testnet.addr(10))
