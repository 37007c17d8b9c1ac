"""Pure pieces of the agent: master CLI parsing, cgroup values, UDP-health planning, PKI, names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography import x509

from portus.agent import cgroups, netns, pki, wire
from portus.agent.errors import AgentError
from portus.agent.haproxy import parse_show_proc
from portus.agent.model import AmphoraSpec, Limits, NetworkAttachment, RenderedFiles
from portus.agent.runtime import answer_ok
from portus.agent.udphealth import NftMap, plan
from portus.drivers.agent import AmphoraAgent
from portus.drivers.local import LocalAgent

SHOW_PROC = """#<PID>          <type>          <reloads>       <uptime>        <version>
4944            master          2 [failed: 1]   0d00h00m13s     2.6.12-1+deb12u4
# workers
5001            worker          1               0d00h00m10s     2.6.12-1+deb12u4
# old workers
4946            worker          2               0d00h00m20s     2.6.12-1+deb12u4
# programs
"""


def test_show_proc_is_parsed() -> None:
    table = parse_show_proc(SHOW_PROC)
    assert (table.master_pid, table.reloads, table.failed) == (4944, 2, 1)
    assert table.workers == (5001,) and table.old_workers == (4946,)
    with pytest.raises(AgentError):
        parse_show_proc("Unknown command\n")


def test_runtime_answers() -> None:
    assert answer_ok("add server be/a 1.2.3.4:80", "New server registered.\n")
    assert not answer_ok("add server be/a 1.2.3.4:80", "'server' unknown keyword\n")
    assert answer_ok("set server be/a weight 3", "")
    assert not answer_ok("set server be/a weight 3", "No such server.\n")
    assert answer_ok("del server be/a", "Server deleted.")


def test_cgroup_values() -> None:
    v1 = cgroups.v1_settings(Limits(cpus=1.5, memory_bytes=1 << 30, pids_max=64))
    assert v1["cpu"]["cpu.cfs_quota_us"] == "150000"
    assert v1["memory"]["memory.limit_in_bytes"] == str(1 << 30)
    assert v1["pids"]["pids.max"] == "64"
    assert cgroups.v2_settings(Limits(cpus=0.25)) == {"cpu.max": "25000 100000"}
    assert cgroups.v2_settings(Limits()) == {}


def test_names_fit_linux_limits() -> None:
    amp = "5E1F00D1-aaaa-4bbb-8ccc-000000000001"
    assert netns.netns_name(amp) == "portus-amp-5e1f00d1"
    assert netns.host_veth_name(amp, 3) == "pa5e1f00d13"
    assert len(netns.host_veth_name(amp, 9)) <= 15
    with pytest.raises(AgentError):
        netns.short_id("xyz")


def test_udp_health_plan() -> None:
    target = NftMap("ip", "portus_udp", "pool")
    assert plan(target, {"a": True, "b": False, "c": True}, {"b", "c"}) == [
        "add element ip portus_udp pool { a }",
        "delete element ip portus_udp pool { b }",
    ]


def test_pki_issues_certificates_chained_to_the_ca() -> None:
    ca = pki.create_ca()
    server = pki.issue(ca, "agent-1", server=True, sans=("127.0.0.1", "lb1.example"))
    cert = x509.load_pem_x509_certificate(server.cert_pem)
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem)
    cert.verify_directly_issued_by(ca_cert)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["lb1.example"]
    assert pki.common_name(server.cert_pem) == "agent-1"


def test_local_driver_satisfies_the_agent_protocol(tmp_path: Path) -> None:
    local = LocalAgent(tmp_path, use_cgroups=False)
    assert isinstance(local, AmphoraAgent)
    assert local.list_amphorae() == []


def test_wire_round_trips_what_the_remote_driver_sends() -> None:
    files = RenderedFiles("cfg", "nft", None, scripts=(("a.sh", "x"),), files=(("c.pem", "y"),))
    assert wire.files_from_dict(json.loads(json.dumps(wire.to_dict(files)))) == files
    spec = AmphoraSpec("abcdef01", (NetworkAttachment("portus-br", "10.0.0.5", 24, "10.0.0.1"),))
    assert wire.spec_from_dict(json.loads(json.dumps(wire.to_dict(spec)))) == spec
