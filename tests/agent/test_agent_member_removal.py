"""Removing a member under load through the runtime API: no reload, no failed request.

HAProxy 2.6 refuses ``del server`` while the server has a request in flight or idle pooled
connections (``http-reuse always``). These tests remove a member in exactly those states, on a
real amphora, and look at what a user sees: every request answered, nothing new sent to the
removed member, no reload, and the server eventually gone from the worker.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from agent_helpers import Backend, Net

from portus.agent import haproxy, heartbeat, runtime
from portus.agent.agent import Agent
from portus.agent.model import AmphoraSpec, RenderedFiles

pytestmark = pytest.mark.dataplane

AMP = "5e1f00d1-aaaa-4bbb-8ccc-000000000002"
BACKEND = "pool-1:listener-1"  # the renderer's naming, which the heartbeat reads


def config(vip: str, run_dir: str, servers: list[str]) -> str:
    """Like the renderer's output: keep-alive on both sides, ``http-reuse always``."""
    lines = [
        "global",
        "    master-worker",
        f"    stats socket {run_dir}/haproxy.sock mode 600 level admin expose-fd listeners",
        f"    server-state-file {run_dir}/haproxy.state",
        "defaults",
        "    mode http",
        "    timeout connect 2s",
        "    timeout client 30s",
        "    timeout server 30s",
        "    load-server-state-from-file global",
        "frontend listener-1",
        f"    bind {vip}:80",
        "    option http-keep-alive",
        f"    default_backend {BACKEND}",
        f"backend {BACKEND}",
        "    balance roundrobin",
        "    option http-keep-alive",
        "    http-reuse always",
        *[f"    {s}" for s in servers],
    ]
    return "\n".join(lines) + "\n"


def srv(b: Backend, extra: str = "") -> str:
    return f"server {b.name} {b.address}:{b.port} weight 1{extra}"


class Load:
    """Keep-alive clients hitting the VIP until stopped (bounded in count and time)."""

    def __init__(self, vip: str, clients: int = 3, limit: int = 20000, seconds: float = 60) -> None:
        self.vip, self.limit, self.until = vip, limit, time.monotonic() + seconds
        self.stop = threading.Event()
        self.results: list[tuple[float, str]] = []  # (start time, backend name or error)
        self.threads = [threading.Thread(target=self._run) for _ in range(clients)]

    def _run(self) -> None:
        conn = http.client.HTTPConnection(self.vip, 80, timeout=5)
        try:
            while (
                not self.stop.is_set()
                and len(self.results) < self.limit
                and time.monotonic() < self.until
            ):
                started = time.monotonic()
                try:
                    conn.request("GET", "/")
                    resp = conn.getresponse()
                    body = resp.read().decode()
                    self.results.append((started, body if resp.status == 200 else str(resp.status)))
                except (OSError, http.client.HTTPException) as exc:
                    self.results.append((started, repr(exc)))
                    conn.close()
                    conn = http.client.HTTPConnection(self.vip, 80, timeout=5)
                time.sleep(0.002)
        finally:
            conn.close()

    def __enter__(self) -> Load:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(10)

    def after(self, moment: float) -> list[str]:
        return [name for started, name in self.results if started >= moment]

    def failures(self) -> list[str]:
        return [name for _, name in self.results if not name.startswith("be")]


class Slow(threading.Thread):
    """One request that stays in flight for ``seconds`` on whichever member gets it."""

    def __init__(self, vip: str, seconds: float) -> None:
        super().__init__()
        self.vip, self.seconds = vip, seconds
        self.answer: tuple[int, str] | str | None = None
        self.done = threading.Event()

    def run(self) -> None:
        conn = http.client.HTTPConnection(self.vip, 80, timeout=self.seconds + 10)
        try:
            conn.request("GET", f"/slow/{self.seconds}")
            resp = conn.getresponse()
            self.answer = (resp.status, resp.read().decode())
        except (OSError, http.client.HTTPException) as exc:
            self.answer = repr(exc)
        finally:
            conn.close()
            self.done.set()


def servers_state(run_dir: str) -> dict[str, int]:
    """Server name -> admin state bits (1 = forced maintenance) of the current worker."""
    text = haproxy.runtime(haproxy.HaproxyFiles(Path(run_dir)), f"show servers state {BACKEND}")
    out: dict[str, int] = {}
    for line in text.splitlines()[2:]:
        fields = line.split()
        out[fields[3]] = int(fields[6])
    return out


def wait_until(predicate: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


@pytest.fixture
def amphora(agent: Agent, testnet: Net) -> Iterator[tuple[Agent, str, str]]:
    info = agent.create_amphora(AmphoraSpec(AMP, (testnet.leg(10),)))
    yield agent, info.run_dir, testnet.addr(10)


def _state(agent: Agent) -> dict[str, object]:
    return dict(json.loads((agent.run_dir(AMP) / "state.json").read_text()))


def _member_states(agent: Agent) -> dict[str, str]:
    info = next(i for i in agent.list_amphorae() if i.id == AMP)
    body = heartbeat.observe(info, heartbeat.CounterFolder())
    return dict(body["pools"][BACKEND]["members"])


def test_member_serving_a_request_is_removed_without_reload_or_failure(
    amphora: tuple[Agent, str, str], backends: tuple[Backend, Backend]
) -> None:
    agent, run_dir, vip = amphora
    b1, b2 = backends
    agent.sweep_interval = 0.1
    # be2 is in the file (a static server, with an idle connection pool); be1 arrives at
    # runtime. The slow request is on be2, the only member when it starts.
    assert agent.apply(AMP, RenderedFiles(config(vip, run_dir, [srv(b2)]))).error is None
    before = agent.status(AMP)
    with Load(vip) as load:
        assert wait_until(lambda: len(load.results) > 50, 10)
        slow = Slow(vip, 4.0)
        slow.start()
        time.sleep(0.3)
        both = agent.apply(AMP, RenderedFiles(config(vip, run_dir, [srv(b1), srv(b2)])))
        assert both.error is None and not both.reloaded
        assert wait_until(lambda: "be1" in [n for _, n in load.results[-20:]], 10)

        removed = agent.apply(AMP, RenderedFiles(config(vip, run_dir, [srv(b1)])))
        removed_at = time.monotonic()
        # The apply did not wait for the request: it is still in flight on be2, which stays
        # in the worker in maintenance only until it can be deleted.
        assert not slow.done.is_set()
        assert removed.error is None and not removed.reloaded
        assert servers_state(run_dir).get("be2") == 1
        assert _member_states(agent) == {"be1": "no check"}  # not reported as a member

        slow.join(15)
        assert slow.answer == (200, "be2")  # finished on the removed member, not cut
        assert wait_until(lambda: "be2" not in servers_state(run_dir), 10)
        assert not runtime.tombstone_file(Path(run_dir)).exists()
        time.sleep(0.2)
    assert load.failures() == []
    assert set(load.after(removed_at)) == {"be1"}
    after = agent.status(AMP)
    assert after.reloads == before.reloads == 0
    assert after.haproxy_pid == before.haproxy_pid and after.worker_pids == before.worker_pids
    assert after.runtime_applies == before.runtime_applies + 2
    assert _state(agent)["deferred_deletes"] == 1


def test_member_with_only_pooled_connections_is_deleted_at_once(
    amphora: tuple[Agent, str, str], backends: tuple[Backend, Backend]
) -> None:
    agent, run_dir, vip = amphora
    b1, b2 = backends
    assert agent.apply(AMP, RenderedFiles(config(vip, run_dir, [srv(b1), srv(b2)]))).error is None
    with Load(vip) as load:
        assert wait_until(lambda: {"be1", "be2"} <= {n for _, n in load.results}, 10)
        removed = agent.apply(AMP, RenderedFiles(config(vip, run_dir, [srv(b1)])))
        removed_at = time.monotonic()
        assert removed.error is None and not removed.reloaded
        assert f"del server {BACKEND}/be2" in removed.runtime_ops
        assert "be2" not in servers_state(run_dir)  # gone before the apply returned
        assert not runtime.tombstone_file(Path(run_dir)).exists()
        assert wait_until(lambda: len(load.after(removed_at)) > 50, 10)
    assert load.failures() == []
    assert set(load.after(removed_at)) == {"be1"}
    assert agent.status(AMP).reloads == 0
    assert "deferred_deletes" not in _state(agent)


def test_member_added_back_while_still_draining_serves_again_without_reload(
    amphora: tuple[Agent, str, str], backends: tuple[Backend, Backend]
) -> None:
    agent, run_dir, vip = amphora
    b1, b2 = backends
    agent.sweep_interval = 60.0  # keep the tombstone for this test
    assert agent.apply(AMP, RenderedFiles(config(vip, run_dir, [srv(b2)]))).error is None
    slow = Slow(vip, 3.0)
    slow.start()
    time.sleep(0.3)
    assert agent.apply(AMP, RenderedFiles(config(vip, run_dir, [srv(b1), srv(b2)]))).error is None
    assert agent.apply(AMP, RenderedFiles(config(vip, run_dir, [srv(b1)]))).error is None
    assert servers_state(run_dir).get("be2") == 1 and not slow.done.is_set()

    back = agent.apply(AMP, RenderedFiles(config(vip, run_dir, [srv(b1), srv(b2)])))
    assert back.error is None and not back.reloaded
    assert servers_state(run_dir).get("be2") == 0
    assert not runtime.tombstone_file(Path(run_dir)).exists()
    assert _member_states(agent) == {"be1": "no check", "be2": "no check"}
    with Load(vip, clients=1, limit=40) as load:
        assert wait_until(lambda: len(load.results) >= 40, 10)
    assert {"be1", "be2"} == {n for _, n in load.results}
    slow.join(10)
    assert slow.answer == (200, "be2")
    assert agent.status(AMP).reloads == 0


def test_member_added_back_with_other_options_reloads_and_is_not_left_in_maintenance(
    amphora: tuple[Agent, str, str], backends: tuple[Backend, Backend]
) -> None:
    agent, run_dir, vip = amphora
    b1, b2 = backends
    agent.sweep_interval = 60.0
    assert agent.apply(AMP, RenderedFiles(config(vip, run_dir, [srv(b2)]))).error is None
    slow = Slow(vip, 3.0)
    slow.start()
    time.sleep(0.3)
    assert agent.apply(AMP, RenderedFiles(config(vip, run_dir, [srv(b1), srv(b2)]))).error is None
    assert agent.apply(AMP, RenderedFiles(config(vip, run_dir, [srv(b1)]))).error is None
    assert servers_state(run_dir).get("be2") == 1

    changed = config(vip, run_dir, [srv(b1), srv(b2, " maxconn 100")])
    back = agent.apply(AMP, RenderedFiles(changed))
    assert back.error is None and back.reloaded
    # The saved server state must not carry the tombstone's maintenance over to the new be2.
    assert servers_state(run_dir).get("be2") == 0
    assert not runtime.tombstone_file(Path(run_dir)).exists()
    slow.join(10)
    assert slow.answer == (200, "be2")  # the old worker finished it
