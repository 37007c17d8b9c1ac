"""Real amphorae: namespaces, HAProxy master-worker, atomic apply, runtime-API member changes."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
from agent_helpers import Backend, Net, answers, get

from portus.agent import haproxy, netns
from portus.agent.agent import Agent
from portus.agent.model import AmphoraSpec, Limits, RenderedFiles

pytestmark = pytest.mark.dataplane

AMP = "5e1f00d1-aaaa-4bbb-8ccc-000000000001"


def config(vip: str, run_dir: str, servers: list[str], extra_frontend: str = "") -> str:
    """A hand-written haproxy.cfg like the renderer's: master-worker, admin socket, state file."""
    lines = [
        "global",
        "    master-worker",
        f"    stats socket {run_dir}/stats.sock mode 600 level admin expose-fd listeners",
        f"    server-state-file {run_dir}/servers.state",
        "defaults",
        "    mode http",
        "    timeout connect 2s",
        "    timeout client 10s",
        "    timeout server 10s",
        "    load-server-state-from-file global",
        "frontend fe_http",
        f"    bind {vip}:80",
        *([f"    {extra_frontend}"] if extra_frontend else []),
        "    default_backend be_pool",
        "backend be_pool",
        "    balance roundrobin",
        *[f"    {s}" for s in servers],
    ]
    return "\n".join(lines) + "\n"


def srv(b: Backend, weight: int = 1, extra: str = "") -> str:
    return f"server {b.name} {b.address}:{b.port} weight {weight}{extra}".rstrip()


@pytest.fixture
def amphora(agent: Agent, testnet: Net) -> tuple[Agent, str, str]:
    info = agent.create_amphora(AmphoraSpec(AMP, (testnet.leg(10),)))
    return agent, info.run_dir, testnet.addr(10)


def test_apply_serves_balanced_traffic(
    amphora: tuple[Agent, str, str], backends: tuple[Backend, Backend]
) -> None:
    agent, run_dir, vip = amphora
    b1, b2 = backends
    result = agent.apply(AMP, RenderedFiles(haproxy_cfg=config(vip, run_dir, [srv(b1), srv(b2)])))
    assert result.error is None and result.changed
    seen = answers(vip)
    assert set(seen) == {"be1", "be2"}
    assert abs(seen.count("be1") - seen.count("be2")) <= 2
    status = agent.status(AMP)
    assert status.alive and status.reloads == 0 and status.haproxy_pid is not None


def test_identical_config_is_a_noop(
    amphora: tuple[Agent, str, str], backends: tuple[Backend, Backend]
) -> None:
    agent, run_dir, vip = amphora
    cfg = config(vip, run_dir, [srv(backends[0])])
    agent.apply(AMP, RenderedFiles(haproxy_cfg=cfg))
    before = agent.status(AMP)
    again = agent.apply(AMP, RenderedFiles(haproxy_cfg=cfg))
    assert not again.changed and not again.reloaded and again.runtime_ops == ()
    after = agent.status(AMP)
    assert after.worker_pids == before.worker_pids and after.reloads == before.reloads


def test_member_changes_use_runtime_api_without_reload(
    amphora: tuple[Agent, str, str], backends: tuple[Backend, Backend]
) -> None:
    agent, run_dir, vip = amphora
    b1, b2 = backends
    agent.apply(AMP, RenderedFiles(haproxy_cfg=config(vip, run_dir, [srv(b1)])))
    assert set(answers(vip, 6)) == {"be1"}
    start = agent.status(AMP)

    added = agent.apply(AMP, RenderedFiles(haproxy_cfg=config(vip, run_dir, [srv(b1), srv(b2)])))
    assert added.error is None and not added.reloaded
    assert any(op.startswith("add server be_pool/be2") for op in added.runtime_ops)
    assert set(answers(vip)) == {"be1", "be2"}

    drained = config(vip, run_dir, [srv(b1, weight=0), srv(b2)])
    reweighted = agent.apply(AMP, RenderedFiles(haproxy_cfg=drained))
    assert reweighted.runtime_ops == ("set server be_pool/be1 weight 0",)
    assert set(answers(vip)) == {"be2"}

    disabled = config(vip, run_dir, [srv(b1), srv(b2, extra=" disabled")])
    assert agent.apply(AMP, RenderedFiles(haproxy_cfg=disabled)).error is None
    assert set(answers(vip)) == {"be1"}

    removed = agent.apply(AMP, RenderedFiles(haproxy_cfg=config(vip, run_dir, [srv(b1)])))
    assert "del server be_pool/be2" in removed.runtime_ops and not removed.reloaded
    assert set(answers(vip)) == {"be1"}

    end = agent.status(AMP)
    assert end.reloads == start.reloads == 0
    assert end.haproxy_pid == start.haproxy_pid and end.worker_pids == start.worker_pids
    assert end.runtime_applies == 4
    # The file on disk follows the runtime changes, so the next reload starts from it.
    assert (Path(run_dir) / "haproxy.cfg").read_text() == config(vip, run_dir, [srv(b1)])


def test_structural_change_reloads_seamlessly(
    amphora: tuple[Agent, str, str], backends: tuple[Backend, Backend]
) -> None:
    agent, run_dir, vip = amphora
    b1 = backends[0]
    agent.apply(AMP, RenderedFiles(haproxy_cfg=config(vip, run_dir, [srv(b1)])))
    before = agent.status(AMP)
    fixed = config(
        vip,
        run_dir,
        [srv(b1)],
        "http-request return status 503 content-type text/plain string sorry",
    )
    result = agent.apply(AMP, RenderedFiles(haproxy_cfg=fixed))
    assert result.error is None and result.reloaded
    after = agent.status(AMP)
    assert after.haproxy_pid == before.haproxy_pid
    assert after.worker_pids != before.worker_pids
    assert after.reloads == before.reloads + 1
    assert get(vip) == (503, "sorry")


def test_invalid_config_is_refused_and_old_one_keeps_serving(
    amphora: tuple[Agent, str, str], backends: tuple[Backend, Backend]
) -> None:
    agent, run_dir, vip = amphora
    good = config(vip, run_dir, [srv(backends[0])])
    agent.apply(AMP, RenderedFiles(haproxy_cfg=good))
    before = agent.status(AMP)
    bad = good.replace("balance roundrobin", "balance no-such-algorithm")
    result = agent.apply(AMP, RenderedFiles(haproxy_cfg=bad))
    assert result.error is not None and "invalid" in result.error
    assert not result.changed and not result.reloaded
    assert (Path(run_dir) / "haproxy.cfg").read_text() == good
    assert agent.status(AMP).worker_pids == before.worker_pids
    assert set(answers(vip, 4)) == {"be1"}


def test_config_failing_after_reload_is_rolled_back(
    amphora: tuple[Agent, str, str], backends: tuple[Backend, Backend], testnet: Net
) -> None:
    agent, run_dir, vip = amphora
    good = config(vip, run_dir, [srv(backends[0])])
    agent.apply(AMP, RenderedFiles(haproxy_cfg=good))
    # Valid for `haproxy -c`, but the address is not on the amphora, so binding fails.
    broken = good.replace(f"bind {vip}:80", f"bind {testnet.addr(99)}:80")
    result = agent.apply(AMP, RenderedFiles(haproxy_cfg=broken))
    assert result.error is not None and result.rolled_back and not result.changed
    assert (Path(run_dir) / "haproxy.cfg").read_text() == good
    assert set(answers(vip, 4)) == {"be1"}
    assert agent.status(AMP).alive


def test_dead_haproxy_is_detected_and_restarted(
    amphora: tuple[Agent, str, str], backends: tuple[Backend, Backend]
) -> None:
    agent, run_dir, vip = amphora
    cfg = config(vip, run_dir, [srv(backends[0])])
    agent.apply(AMP, RenderedFiles(haproxy_cfg=cfg))
    pid = agent.status(AMP).haproxy_pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while haproxy.pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not agent.status(AMP).alive
    # The worker notices its master's death and exits on its own, freeing the port.
    deadline = time.monotonic() + 5
    while netns.netns_pids(netns.netns_name(AMP)) and time.monotonic() < deadline:
        time.sleep(0.05)
    result = agent.apply(AMP, RenderedFiles(haproxy_cfg=cfg))
    assert result.error is None and result.changed
    assert agent.status(AMP).alive
    assert set(answers(vip, 4)) == {"be1"}


def test_amphora_processes_run_in_its_cgroup(agent: Agent, testnet: Net) -> None:
    spec = AmphoraSpec(AMP, (testnet.leg(10),), Limits(cpus=0.5, memory_bytes=256 << 20))
    info = agent.create_amphora(spec)
    cfg = config(testnet.addr(10), info.run_dir, [])
    assert agent.apply(AMP, RenderedFiles(haproxy_cfg=cfg)).error is None
    status = agent.status(AMP)
    cpu = next(Path(d) for d in info.cgroups if "/cpu/" in d or d.endswith(info.netns))
    procs = {int(p) for p in (cpu / "cgroup.procs").read_text().split()}
    assert status.haproxy_pid in procs and set(status.worker_pids) <= procs
    if (cpu / "cpu.cfs_quota_us").exists():
        assert (cpu / "cpu.cfs_quota_us").read_text().strip() == "50000"


def test_reloads_under_traffic_lose_no_new_connection(
    amphora: tuple[Agent, str, str], backends: tuple[Backend, Backend]
) -> None:
    agent, run_dir, vip = amphora
    b1, b2 = backends
    agent.apply(AMP, RenderedFiles(haproxy_cfg=config(vip, run_dir, [srv(b1), srv(b2)])))
    stop = threading.Event()
    outcomes: list[int | str] = []

    def client() -> None:
        while not stop.is_set() and len(outcomes) < 5000:
            try:
                outcomes.append(get(vip)[0])
            except OSError as exc:
                outcomes.append(repr(exc))

    thread = threading.Thread(target=client)
    thread.start()
    try:
        for i in range(3):
            header = f"http-response set-header X-Generation {i}"
            cfg = config(vip, run_dir, [srv(b1), srv(b2)], header)
            assert agent.apply(AMP, RenderedFiles(haproxy_cfg=cfg)).reloaded
    finally:
        stop.set()
        thread.join(10)
    assert agent.status(AMP).reloads == 3
    assert outcomes and all(o == 200 for o in outcomes), [o for o in outcomes if o != 200][:3]


def test_support_files_are_written_and_a_changed_one_reloads(
    amphora: tuple[Agent, str, str],
) -> None:
    agent, run_dir, vip = amphora
    page = f"http-request return status 200 content-type text/plain file {run_dir}/pages/p.txt"
    cfg = config(vip, run_dir, [], page)
    script = ("check.sh", "#!/bin/sh\nexit 0\n")
    first = agent.apply(AMP, RenderedFiles(cfg, files=(("pages/p.txt", "v1"),), scripts=(script,)))
    assert first.error is None and get(vip) == (200, "v1")
    assert os.access(Path(run_dir) / "check.sh", os.X_OK)
    same = agent.apply(AMP, RenderedFiles(cfg, files=(("pages/p.txt", "v1"),), scripts=(script,)))
    assert not same.changed and not same.reloaded
    second = agent.apply(AMP, RenderedFiles(cfg, files=((f"{run_dir}/pages/p.txt", "v2"),)))
    assert second.reloaded and get(vip) == (200, "v2")
    escape = agent.apply(AMP, RenderedFiles(cfg, files=(("../../escape.txt", "x"),)))
    assert escape.error is not None and "outside" in escape.error
    assert not (Path(run_dir).parent.parent / "escape.txt").exists()
