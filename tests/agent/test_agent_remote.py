"""The remote driver against a real ``portus agent`` HTTPS server on 127.0.0.1, mutual TLS."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from agent_helpers import free_port

from portus.agent import pki
from portus.agent.agent import Agent
from portus.agent.server import make_server
from portus.drivers.agent import AmphoraAgent, AmphoraSpec, NotFound, RenderedFiles
from portus.drivers.remote import RemoteAgent

AMP = "facade01-2222-4333-8444-000000000004"


@pytest.fixture
def agent_server(agent: Agent, tmp_path: Path) -> Iterator[tuple[str, pki.PkiPaths]]:
    paths = pki.ensure_pki(tmp_path / "pki")
    port = free_port()
    server: Any = make_server(
        agent,
        "127.0.0.1",
        port,
        certfile=paths.server_cert,
        keyfile=paths.server_key,
        cafile=paths.ca_cert,
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"https://127.0.0.1:{port}", paths
    finally:
        server.should_exit = True
        thread.join(10)


def remote(url: str, paths: pki.PkiPaths) -> RemoteAgent:
    return RemoteAgent(
        url, ca_cert=paths.ca_cert, client_cert=paths.client_cert, client_key=paths.client_key
    )


def test_client_without_certificate_is_refused(agent_server: tuple[str, pki.PkiPaths]) -> None:
    url, paths = agent_server
    ctx = ssl.create_default_context(cafile=str(paths.ca_cert))
    with pytest.raises(httpx.HTTPError), httpx.Client(verify=ctx, trust_env=False) as client:
        client.get(f"{url}/v1/health")


def test_client_with_foreign_ca_certificate_is_refused(
    agent_server: tuple[str, pki.PkiPaths], tmp_path: Path
) -> None:
    url, paths = agent_server
    foreign = pki.issue(pki.create_ca("Someone else"), "intruder", server=False)
    foreign.write(tmp_path / "c.pem", tmp_path / "c.key")
    ctx = ssl.create_default_context(cafile=str(paths.ca_cert))
    ctx.load_cert_chain(str(tmp_path / "c.pem"), str(tmp_path / "c.key"))
    with pytest.raises(httpx.HTTPError), httpx.Client(verify=ctx, trust_env=False) as client:
        client.get(f"{url}/v1/health")


@pytest.mark.dataplane
def test_remote_agent_drives_a_real_amphora(agent_server: tuple[str, pki.PkiPaths]) -> None:
    url, paths = agent_server
    client = remote(url, paths)
    try:
        assert isinstance(client, AmphoraAgent)
        info = client.create_amphora(AmphoraSpec(AMP))
        assert info.netns == "portus-amp-facade01"
        cfg = "\n".join(
            [
                "global",
                "    master-worker",
                "defaults",
                "    mode http",
                "    timeout connect 1s",
                "    timeout client 2s",
                "    timeout server 2s",
                "frontend fe",
                "    bind 127.0.0.1:8080",
                "    http-request return status 200 content-type text/plain string hello",
                "",
            ]
        )
        result = client.apply(AMP, RenderedFiles(haproxy_cfg=cfg))
        assert result.error is None and result.changed
        status = client.status(AMP)
        assert status.alive and status.reloads == 0
        assert [i.id for i in client.list_amphorae()] == [AMP]
        client.delete_amphora(AMP)
        with pytest.raises(NotFound):
            client.status(AMP)
    finally:
        client.close()


def test_remote_errors_map_to_agent_exceptions(agent_server: tuple[str, pki.PkiPaths]) -> None:
    url, paths = agent_server
    client = remote(url, paths)
    try:
        with pytest.raises(NotFound):
            client.apply("0badc0de-0000", RenderedFiles(haproxy_cfg=""))
        assert client.list_amphorae() == []
    finally:
        client.close()
