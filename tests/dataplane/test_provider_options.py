"""Amphora provider options a user can reach through the API: additional VIPs, member subnets,
flavor resource limits, and amphorae on a remote `portus agent` over mutual TLS."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from portus.config import SubnetConfig
from portus.db.models import Amphora
from tests.support.portus_app import Portus, free_port, make_settings

from dataplane_support import Backend, needs_root

pytestmark = [needs_root]


def _bridge_gone(name: str) -> None:
    if subprocess.run(["ip", "link", "show", name], capture_output=True).returncode == 0:
        subprocess.run(["ip", "link", "del", name], check=False)


@pytest.fixture
def two_subnets() -> Iterator[tuple[SubnetConfig, SubnetConfig, SubnetConfig]]:
    """`public` and `public-b` on one bridge (one network), `members` on a bridge of its own."""
    n = random.randint(10, 250)
    vip_bridge, member_bridge = f"portus-o{n}", f"portus-m{n}"
    public = SubnetConfig(
        "public", "public", "public", "public", f"10.249.{n}.0/24", f"10.249.{n}.1", vip_bridge
    )
    public_b = SubnetConfig(
        "public-b", "public-b", "public", "public", f"10.248.{n}.0/24", f"10.248.{n}.1", vip_bridge
    )
    members = SubnetConfig(
        "members",
        "members",
        "members",
        "members",
        f"10.247.{n}.0/24",
        f"10.247.{n}.1",
        member_bridge,
    )
    try:
        yield public, public_b, members
    finally:
        _bridge_gone(vip_bridge)
        _bridge_gone(member_bridge)


def run_portus(subnets: tuple[SubnetConfig, ...], **extra: Any) -> Portus:
    state = Path(tempfile.mkdtemp(prefix="portus-"))
    settings = make_settings(state).with_(provider="amphora", subnets=subnets, **extra)
    return Portus(settings).start()


def stop_portus(p: Portus) -> None:
    p.stop()
    provider: Any = p.controller.providers.get("amphora")
    if provider is not None:
        provider.shutdown_all()
    shutil.rmtree(p.settings.state_dir, ignore_errors=True)


def http_stack(p: Portus, lb_body: dict[str, Any], member: dict[str, Any]) -> dict[str, Any]:
    body = {
        **lb_body,
        "listeners": [{"protocol": "HTTP", "protocol_port": 80, "default_pool": {"name": "p"}}],
        "pools": [
            {"name": "p", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "members": [member]}
        ],
    }
    r = p.client.post("/v2/lbaas/loadbalancers", json={"loadbalancer": body})
    assert r.status_code == 201, r.text
    return p.wait_lb(r.json()["loadbalancer"]["id"], timeout=30)


def test_additional_vip_and_member_subnet_leg(
    two_subnets: tuple[SubnetConfig, SubnetConfig, SubnetConfig],
) -> None:
    members = two_subnets[2]
    p = run_portus(two_subnets)
    backend = Backend(members.gateway or "", "behind-member-leg")
    try:
        lb = http_stack(
            p,
            {"vip_subnet_id": "public", "additional_vips": [{"subnet_id": "public-b"}]},
            {
                "address": backend.server.server_address[0],
                "protocol_port": backend.port,
                "subnet_id": "members",
            },
        )
        (extra,) = lb["additional_vips"]
        assert extra["subnet_id"] == "public-b" and extra["ip_address"].startswith("10.248.")
        for vip in (lb["vip_address"], extra["ip_address"]):
            assert httpx.get(f"http://{vip}/", timeout=5).text == "behind-member-leg"
    finally:
        backend.stop()
        stop_portus(p)


def test_flavor_compute_limits_become_the_amphora_cgroup(
    two_subnets: tuple[SubnetConfig, SubnetConfig, SubnetConfig],
) -> None:
    p = run_portus(two_subnets)
    try:
        data = '{"compute_flavor": "cpus=0.5,memory_mb=96,pids=300"}'
        r = p.client.post(
            "/v2/lbaas/flavorprofiles",
            json={
                "flavorprofile": {"name": "small", "provider_name": "amphora", "flavor_data": data}
            },
        )
        assert r.status_code == 201, r.text
        r = p.client.post(
            "/v2/lbaas/flavors",
            json={
                "flavor": {"name": "small", "flavor_profile_id": r.json()["flavorprofile"]["id"]}
            },
        )
        assert r.status_code == 201, r.text
        lb = p.create_lb(flavor_id=r.json()["flavor"]["id"])
        (amp,) = p.client.get("/v2/octavia/amphorae", params={"loadbalancer_id": lb["id"]}).json()[
            "amphorae"
        ]
        provider: Any = p.controller.providers["amphora"]
        agent = provider._agent(amp.get("host") or "local")
        (info,) = [i for i in agent.list_amphorae() if i.id == amp["id"]]
        files: dict[str, str] = {}
        for directory in info.cgroups:
            for name in (
                "memory.limit_in_bytes",
                "memory.max",
                "pids.max",
                "cpu.cfs_quota_us",
                "cpu.max",
            ):
                path = Path(directory) / name
                if path.exists():
                    files[name] = path.read_text().strip()
        assert files.get("pids.max") == "300"
        memory = files.get("memory.limit_in_bytes") or files.get("memory.max")
        assert memory == str(96 * 1024 * 1024)
        cpu = files.get("cpu.cfs_quota_us") or files.get("cpu.max", "").split()[0]
        assert cpu == "50000"
    finally:
        stop_portus(p)


@contextlib.contextmanager
def agent_process(subnets: tuple[SubnetConfig, ...]) -> Iterator[tuple[str, Path]]:
    """A real `portus agent` on a free port; yields its URL and state dir (PKI in ./pki)."""
    state = Path(tempfile.mkdtemp(prefix="portus-ag-"))
    port = free_port()
    env = {
        **os.environ,
        "PORTUS_STATE_DIR": str(state),
        "PORTUS_LOG_LEVEL": "warning",
        "PORTUS_SUBNETS": json.dumps([dataclasses.asdict(s) for s in subnets]),
    }
    log = (state / "agent.log").open("wb")
    agent = subprocess.Popen(
        [str(Path(sys.executable).parent / "portus"), "agent", "--bind", f"127.0.0.1:{port}"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while not (state / "pki" / "controller.key").exists() or not _port_open(port):
            assert agent.poll() is None, (state / "agent.log").read_text()
            assert time.monotonic() < deadline, (state / "agent.log").read_text()
            time.sleep(0.1)
        yield f"https://127.0.0.1:{port}", state
    finally:
        agent.send_signal(signal.SIGTERM)
        try:
            agent.wait(10)
        except subprocess.TimeoutExpired:
            agent.kill()
            agent.wait(10)
        log.close()
        shutil.rmtree(state, ignore_errors=True)


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_amphorae_on_a_remote_agent_over_mutual_tls(
    two_subnets: tuple[SubnetConfig, SubnetConfig, SubnetConfig],
) -> None:
    public = two_subnets[0]
    with agent_process(two_subnets) as (url, agent_state):
        p = run_portus(two_subnets, agent_url=url, pki_dir=agent_state / "pki")
        backend = Backend(public.gateway or "", "remote")
        try:
            lb = http_stack(
                p,
                {"vip_subnet_id": "public"},
                {"address": backend.server.server_address[0], "protocol_port": backend.port},
            )
            assert httpx.get(f"http://{lb['vip_address']}/", timeout=5).text == "remote"
            # The amphora lives in the agent's state dir, not the controller's.
            assert list((agent_state / "agent" / "amphorae").iterdir())
            p.client.delete(f"/v2/lbaas/loadbalancers/{lb['id']}", params={"cascade": "true"})
            p.wait_lb(lb["id"], "DELETED")
            assert not list((agent_state / "agent" / "amphorae").iterdir())
        finally:
            backend.stop()
            stop_portus(p)


def test_active_standby_amphorae_land_on_different_hosts(
    two_subnets: tuple[SubnetConfig, SubnetConfig, SubnetConfig],
) -> None:
    """Anti-affinity: host `local` (in-process) and host `b` (a `portus agent`) each get one."""
    public = two_subnets[0]
    with agent_process(two_subnets) as (url, agent_state):
        p = run_portus(
            two_subnets,
            agents={"b": url},
            pki_dir=agent_state / "pki",
            loadbalancer_topology="ACTIVE_STANDBY",
        )
        backend = Backend(public.gateway or "", "pair")
        try:
            lb = http_stack(
                p,
                {"vip_subnet_id": "public"},
                {"address": backend.server.server_address[0], "protocol_port": backend.port},
            )
            with p.db.session() as s:
                amps = s.scalars(select(Amphora).where(Amphora.load_balancer_id == lb["id"])).all()
                placed = sorted((a.role or "", a.host or "") for a in amps)
            assert [role for role, _ in placed] == ["BACKUP", "MASTER"]
            assert {host for _, host in placed} == {"local", "b"}
            assert list((agent_state / "agent" / "amphorae").iterdir())
            deadline = time.monotonic() + 10
            while True:
                try:
                    if httpx.get(f"http://{lb['vip_address']}/", timeout=1).text == "pair":
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "the VIP never answered"
                time.sleep(0.1)
            p.client.delete(f"/v2/lbaas/loadbalancers/{lb['id']}", params={"cascade": "true"})
            p.wait_lb(lb["id"], "DELETED")
            assert not list((agent_state / "agent" / "amphorae").iterdir())
        finally:
            backend.stop()
            stop_portus(p)
