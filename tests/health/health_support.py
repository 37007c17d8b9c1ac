"""Helpers for tests that need the health process watching a real amphora-provider Portus.

``watch(p)`` starts a health process and a heartbeat sender on ``p``'s in-process agent with
fast timings (beats every 0.2 s, 1.5 s timeout) and stops both afterwards. ``Restartable`` is
an HTTP server that can be stopped and started again on the same port (a member that dies and
comes back).
"""

from __future__ import annotations

import contextlib
import http.server
import socketserver
import threading
from collections.abc import Iterator
from typing import Any

from portus.agent.heartbeat import HeartbeatSender
from portus.db.engine import Database
from portus.db.models import Amphora, Listener, LoadBalancer, Member, Pool
from portus.health.service import HealthOptions, HealthService

KEY = b"portus-test-heartbeat-key"


@contextlib.contextmanager
def watch(
    p: Any,
    *,
    interval: float = 0.2,
    timeout: float = 1.5,
    threshold: int | None = None,
) -> Iterator[HealthService]:
    with watch_pair(p, interval=interval, timeout=timeout, threshold=threshold) as (health, _):
        yield health


@contextlib.contextmanager
def watch_pair(
    p: Any,
    *,
    interval: float = 0.2,
    timeout: float = 1.5,
    threshold: int | None = None,
    check_interval: float = 0.1,
) -> Iterator[tuple[HealthService, HeartbeatSender]]:
    """``watch``, also yielding the heartbeat sender (a test may silence the host)."""
    options = HealthOptions(
        bind="127.0.0.1:0",
        heartbeat_timeout=timeout,
        check_interval=check_interval,
        stats_flush=0.2,
        failover_threshold=threshold,
        heartbeat_write=0.5,
        resync=2.0,
    )
    health = HealthService(p.db, KEY, options, notify=p.waker.notify)
    address = health.start()
    agent = p.controller.providers["amphora"].agent
    sender = HeartbeatSender(agent, KEY, [address], interval=interval).start()
    try:
        yield health, sender
    finally:
        sender.stop()
        health.stop()


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class Restartable:
    """An HTTP server answering ``name``; ``stop()`` refuses connections, ``start()`` again."""

    def __init__(self, address: str, name: str) -> None:
        self.address, self.name, self.port = address, name, 0
        self.server: _Server | None = None
        self.start()

    def start(self) -> None:
        body = self.name.encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                return

            def handle(self) -> None:
                with contextlib.suppress(ConnectionError, TimeoutError):
                    super().handle()

        self.server = _Server((self.address, self.port), Handler)
        self.port = int(self.server.server_address[1])
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


def make_lb(db: Database, n_amps: int = 1) -> dict[str, Any]:
    """An ACTIVE LB (one HTTP listener, a pool of two members) with ``n_amps`` ALLOCATED
    amphorae, written straight to the database; returns the ids."""
    with db.session() as s:
        lb = LoadBalancer(project_id="p", provisioning_status="ACTIVE", operating_status="ONLINE")
        s.add(lb)
        s.flush()
        pool = Pool(
            project_id="p",
            load_balancer_id=lb.id,
            protocol="HTTP",
            lb_algorithm="ROUND_ROBIN",
            provisioning_status="ACTIVE",
            operating_status="ONLINE",
        )
        s.add(pool)
        s.flush()
        li = Listener(
            project_id="p",
            load_balancer_id=lb.id,
            protocol="HTTP",
            protocol_port=80,
            default_pool_id=pool.id,
            provisioning_status="ACTIVE",
            operating_status="ONLINE",
        )
        members = [
            Member(
                project_id="p",
                pool_id=pool.id,
                address=f"10.0.0.{i}",
                protocol_port=80,
                provisioning_status="ACTIVE",
                operating_status="ONLINE",
            )
            for i in (1, 2)
        ]
        s.add_all([li, *members])
        amps = [Amphora(load_balancer_id=lb.id, status="ALLOCATED") for _ in range(n_amps)]
        s.add_all(amps)
        s.flush()
        return {
            "lb": lb.id,
            "pool": pool.id,
            "listener": li.id,
            "members": [m.id for m in members],
            "amps": [a.id for a in amps],
        }
