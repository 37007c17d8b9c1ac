"""nftables rulesets, keepalived mechanics and the UDP health checker inside real amphorae."""

from __future__ import annotations

import shutil
import socket
import subprocess

import pytest
from agent_helpers import Net

from portus.agent import netns
from portus.agent.agent import Agent
from portus.agent.model import AmphoraSpec, RenderedFiles
from portus.agent.udphealth import NftMap, UdpHealthChecker, UdpMember

pytestmark = pytest.mark.dataplane

AMP = "ab12cd34-5555-4666-8777-000000000003"

RULESET = """table inet portus_amp
delete table inet portus_amp
table inet portus_amp {
    set allowed { type ipv4_addr; flags interval; elements = { %s } }
    chain input {
        type filter hook input priority 0; policy accept;
        udp dport 53 ip saddr != @allowed drop
    }
}
"""


def nft_list(ns: str) -> str:
    return subprocess.run(
        ["ip", "netns", "exec", ns, "nft", "list", "ruleset"], capture_output=True, text=True
    ).stdout


def test_nft_ruleset_applies_atomically_and_bad_one_is_refused(agent: Agent, testnet: Net) -> None:
    info = agent.create_amphora(AmphoraSpec(AMP, (testnet.leg(10),)))
    first = agent.apply(AMP, RenderedFiles(nft_ruleset=RULESET % "10.0.0.0/8"))
    assert first.error is None and first.changed
    assert "10.0.0.0/8" in nft_list(info.netns)
    assert not agent.apply(AMP, RenderedFiles(nft_ruleset=RULESET % "10.0.0.0/8")).changed
    second = agent.apply(AMP, RenderedFiles(nft_ruleset=RULESET % "192.168.0.0/16"))
    assert second.changed and "10.0.0.0/8" not in nft_list(info.netns)
    bad = agent.apply(AMP, RenderedFiles(nft_ruleset="table inet portus_amp { nonsense }\n"))
    assert bad.error is not None and "192.168.0.0/16" in nft_list(info.netns)
    cleared = agent.apply(AMP, RenderedFiles())
    assert cleared.changed and "portus_amp" not in nft_list(info.netns)


KEEPALIVED = """global_defs {
    router_id portus_%s
    enable_script_security
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id %d
    priority 90
    advert_int 1
    nopreempt
    unicast_src_ip %s
    unicast_peer {
        %s
    }
    virtual_ipaddress {
        %s
    }
}
"""


@pytest.mark.skipif(shutil.which("keepalived") is None, reason="needs keepalived")
def test_keepalived_start_reload_stop(agent: Agent, testnet: Net) -> None:
    agent.create_amphora(AmphoraSpec(AMP, (testnet.leg(10),)))
    conf = KEEPALIVED % ("a", 51, testnet.addr(10), testnet.addr(11), testnet.addr(100))
    started = agent.apply(AMP, RenderedFiles(keepalived_conf=conf))
    assert started.error is None and started.changed
    pid = agent.status(AMP).keepalived_pid
    assert pid is not None
    changed = conf.replace("priority 90", "priority 80")
    reloaded = agent.apply(AMP, RenderedFiles(keepalived_conf=changed))
    assert reloaded.error is None and reloaded.changed
    assert agent.status(AMP).keepalived_pid == pid  # SIGHUP, not a restart
    refused = agent.apply(AMP, RenderedFiles(keepalived_conf="vrrp_instance {"))
    assert refused.error is not None and agent.status(AMP).keepalived_pid == pid
    stopped = agent.apply(AMP, RenderedFiles(keepalived_conf=None))
    assert stopped.changed and agent.status(AMP).keepalived_pid is None


UDP_TABLE = """table ip portus_udp
delete table ip portus_udp
table ip portus_udp {
    set pool_up { type ipv4_addr . inet_service; elements = { 127.0.0.1 . 5353, 127.0.0.1 . 5354 } }
}
"""


def test_udp_health_removes_dead_member_from_map(agent: Agent, testnet: Net) -> None:
    info = agent.create_amphora(AmphoraSpec(AMP, (testnet.leg(10),)))
    assert agent.apply(AMP, RenderedFiles(nft_ruleset=UDP_TABLE)).error is None

    def bind_udp() -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 5353))
        return sock

    alive = netns.call_in_netns(info.netns, bind_udp)  # a member that listens (silently)
    try:
        members = [
            UdpMember("127.0.0.1", 5353, "127.0.0.1 . 5353", timeout=0.3),
            UdpMember("127.0.0.1", 5354, "127.0.0.1 . 5354", timeout=0.3),  # port closed
        ]
        checker = UdpHealthChecker(info.netns, NftMap("ip", "portus_udp", "pool_up"), members)
        assert checker.run_once() == {"127.0.0.1 . 5353": True, "127.0.0.1 . 5354": False}
        listed = nft_list(info.netns)
        assert "127.0.0.1 . 5353" in listed and "127.0.0.1 . 5354" not in listed
    finally:
        alive.close()
    # The listener is gone: its member is now reported down and removed too.
    assert checker.run_once()["127.0.0.1 . 5353"] is False
    assert "127.0.0.1 . 5353" not in nft_list(info.netns)
