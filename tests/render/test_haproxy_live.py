"""A rendered config run by a real HAProxy on 127.0.0.1: L7 first-match-by-position as a client
sees it, and ``server_keywords`` accepted by the runtime API's ``add server``."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from render_cases import hm, listener, policy, pool, rule

from portus.ir.desired import AmphoraLayout, AmphoraSpec, LoadBalancerSpec, MemberSpec
from portus.ir.translate import translate
from portus.render import render_haproxy, server_keywords

pytestmark = pytest.mark.dataplane


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def runtime(sock: str, command: str) -> str:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(sock)
        s.sendall(command.encode() + b"\n")
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode()


@pytest.fixture()
def running(tmp_path: Path) -> Iterator[tuple[int, AmphoraLayout, object]]:
    if shutil.which("haproxy") is None:
        pytest.skip("haproxy not installed")
    port, dead = free_port(), free_port()  # nothing listens on `dead`: its pool answers 503
    dead_members = (MemberSpec(id="m-dead", address="127.0.0.1", protocol_port=dead),)
    lis = listener(
        port=port,
        l7policies=(
            policy("p-reject", "REJECT", 2, rule("r-x", "PATH", "STARTS_WITH", "/x")),
            policy(
                "p-pool",
                "REDIRECT_TO_POOL",
                1,
                rule("r-xy", "PATH", "STARTS_WITH", "/xy"),
                redirect_pool_id="pool-2",
            ),
            policy(
                "p-url",
                "REDIRECT_TO_URL",
                3,
                rule("r-old", "PATH", "EQUAL_TO", "/old"),
                redirect_url="http://new.example/",
                redirect_http_code=301,
            ),
        ),
    )
    lb = LoadBalancerSpec(
        id="lb-live",
        project_id="p",
        vip_address="127.0.0.1",
        listeners=(lis,),
        pools=(
            pool(members=dead_members, healthmonitor=hm("TCP")),
            pool("pool-2", members=dead_members),
        ),
    )
    layout = AmphoraLayout.for_state_dir(str(tmp_path))
    ir = translate(lb, AmphoraSpec(id="amp-live"), layout)
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(render_haproxy(ir))
    (tmp_path / "haproxy.state").write_text("1\n")
    subprocess.run(
        ["haproxy", "-W", "-D", "-p", layout.pid_file, "-f", str(cfg)], check=True, timeout=30
    )
    pid = int(Path(layout.pid_file).read_text().split()[0])
    try:
        deadline = time.monotonic() + 5
        while not Path(layout.runtime_socket).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        yield port, layout, ir
    finally:
        os.kill(pid, signal.SIGTERM)


def test_l7_first_match_by_position(running: tuple[int, AmphoraLayout, object]) -> None:
    port = running[0]
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
        # /xy matches the pool policy (position 1) and the reject (position 2): the pool wins,
        # whose only member is down -> 503, not 403.
        assert client.get("/xy").status_code == 503
        assert client.get("/x").status_code == 403
        old = client.get("/old")
        assert (old.status_code, old.headers["location"]) == (301, "http://new.example/")


def test_server_keywords_accepted_by_add_server(running: tuple[int, AmphoraLayout, object]) -> None:
    _, layout, ir = running
    be = ir.backends[0]  # type: ignore[attr-defined]
    variants = [
        replace(be.servers[0], name="new-plain", check=False),
        replace(be.servers[0], name="new-check", check_address="127.0.0.2", check_port=81),
        replace(be.servers[0], name="new-backup", backup=True, enabled=False, weight=0),
        replace(be.servers[0], name="new-proxy", send_proxy="send-proxy-v2", check_ssl=True),
    ]
    for server in variants:
        cmd = f"add server {be.name}/{server.name} 127.0.0.1:9 {server_keywords(server, be)}"
        assert "New server registered" in runtime(layout.runtime_socket, cmd), cmd
