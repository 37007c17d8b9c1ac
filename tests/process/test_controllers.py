"""Real processes sharing one database: `portus api` plus `portus controller`s.

Proves the reconcile machinery's promises with kill -9, not with mocks: a controller killed in
the middle of work leaves nothing stuck, and two controllers never work on one LB at once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.portus_app import BACKENDS, free_port
from tests.support.postgres import PostgresCluster

PORTUS = str(Path(sys.executable).parent / "portus")
LBS = "/v2/lbaas/loadbalancers"


class Proc:
    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log.open("ab")
        self.popen = subprocess.Popen(
            [PORTUS, *args], env={**os.environ, **env}, stdout=self.log, stderr=subprocess.STDOUT
        )

    def kill9(self) -> None:
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(10)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)
        self.log.close()


@pytest.fixture(params=BACKENDS)
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, object]]:
    """`portus api` and `portus controller`s sharing one database (SQLite file or PostgreSQL)."""
    procs: list[Proc] = []
    port = free_port()
    if request.param == "postgres":
        pg: PostgresCluster = request.getfixturevalue("postgres_cluster")
        db_url = pg.create_database(f"portus_proc_{port}")
    else:
        db_url = f"sqlite:///{tmp_path / 'portus.db'}"
    base_env = {
        "PORTUS_DATABASE_URL": db_url,
        "PORTUS_STATE_DIR": str(tmp_path),
        "PORTUS_PROVIDER": "noop",
        "PORTUS_LEASE_SECONDS": "1.5",
        "PORTUS_CONTROLLER_POLL_SECONDS": "0.05",
        "PORTUS_NOOP_JOURNAL": str(tmp_path / "journal"),
        "PORTUS_LOG_LEVEL": "info",
    }

    def start(kind: str, **extra: str) -> Proc:
        args = [kind] + (["--bind", f"127.0.0.1:{port}"] if kind == "api" else [])
        proc = Proc(args, {**base_env, **extra}, tmp_path / f"{kind}-{len(procs)}.log")
        procs.append(proc)
        return proc

    api = start("api")
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
    deadline = time.monotonic() + 30
    while True:
        try:
            if client.get("/").status_code == 200:
                break
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    try:
        yield {"start": start, "client": client, "journal": tmp_path / "journal", "api": api}
    finally:
        client.close()
        for proc in reversed(procs):
            proc.stop()


def journal(path: Path) -> list[tuple[float, int, str, str]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        ts, pid, event, lb_id, _gen = line.split()
        out.append((float(ts), int(pid), event, lb_id))
    return out


def wait_status(client: httpx.Client, lb_id: str, status: str, timeout: float) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    lb: dict = {}  # type: ignore[type-arg]
    while time.monotonic() < deadline:
        r = client.get(f"{LBS}/{lb_id}")
        if status == "DELETED" and r.status_code == 404:
            return {}
        lb = r.json()["loadbalancer"]
        if lb["provisioning_status"] == status:
            return lb
        time.sleep(0.05)
    raise AssertionError(f"{lb_id} not {status} after {timeout}s: {lb}")


@pytest.mark.slow
def test_kill_9_mid_reconcile_leaves_nothing_stuck(cluster: dict) -> None:  # type: ignore[type-arg]
    client: httpx.Client = cluster["client"]  # type: ignore[assignment]
    start = cluster["start"]
    first = start("controller", PORTUS_NOOP_DELAY="30")  # type: ignore[operator]
    ids = []
    for i in range(3):
        r = client.post(LBS, json={"loadbalancer": {"vip_subnet_id": "public", "name": f"k{i}"}})
        assert r.status_code == 201
        ids.append(r.json()["loadbalancer"]["id"])
    deadline = time.monotonic() + 20
    while not any(e[2] == "start" for e in journal(cluster["journal"])):  # type: ignore[arg-type]
        assert time.monotonic() < deadline, "the first controller never started work"
        time.sleep(0.05)
    first.kill9()
    # Mid-work: the LBs are still pending, with nobody working on them.
    assert all(
        client.get(f"{LBS}/{i}").json()["loadbalancer"]["provisioning_status"] == "PENDING_CREATE"
        for i in ids
    )
    start("controller")  # type: ignore[operator]
    for lb_id in ids:
        assert wait_status(client, lb_id, "ACTIVE", timeout=30)["provisioning_status"] == "ACTIVE"


@pytest.mark.slow
def test_two_controllers_never_reconcile_one_lb_at_once(cluster: dict) -> None:  # type: ignore[type-arg]
    client: httpx.Client = cluster["client"]  # type: ignore[assignment]
    start = cluster["start"]
    controllers = [
        # Two workers each and slow applies: one controller cannot take all six LBs at once.
        start("controller", PORTUS_NOOP_DELAY="0.3", PORTUS_CONTROLLER_WORKERS="2")  # type: ignore[operator]
        for _ in range(2)
    ]
    ids = []
    for i in range(6):
        r = client.post(LBS, json={"loadbalancer": {"vip_subnet_id": "public", "name": f"p{i}"}})
        ids.append(r.json()["loadbalancer"]["id"])
    for round_ in range(4):
        for lb_id in ids:
            r = client.put(f"{LBS}/{lb_id}", json={"loadbalancer": {"name": f"r{round_}"}})
            assert r.status_code == 200
        time.sleep(0.1)
    for lb_id in ids:
        assert wait_status(client, lb_id, "ACTIVE", timeout=30)["name"] == "r3"
    for controller in controllers:
        controller.stop()  # graceful: in-flight reconciles finish and are journalled
    events = journal(cluster["journal"])  # type: ignore[arg-type]
    pids = {pid for _, pid, _, _ in events}
    assert len(pids) == 2, "both controllers should have done work"
    open_since: dict[str, tuple[int, float]] = {}
    spans: dict[str, list[tuple[float, float, int]]] = defaultdict(list)
    for ts, pid, event, lb_id in sorted(events):
        if event == "start":
            assert lb_id not in open_since, f"{lb_id} reconciled by two controllers at once"
            open_since[lb_id] = (pid, ts)
        else:
            owner, began = open_since.pop(lb_id)
            assert owner == pid
            spans[lb_id].append((began, ts, pid))
    assert not open_since
