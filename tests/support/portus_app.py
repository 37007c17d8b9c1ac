"""A real Portus (API + controller in this process, uvicorn on a free port) for tests.

Shared by the fixtures in tests/conftest.py and by test modules that build their own instances.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from portus import config
from portus.cli import build_app, build_controller
from portus.db.engine import Database
from portus.db.migrate import upgrade
from portus.reconcile.controller import Waker
from tests.support.ports import free_port

if TYPE_CHECKING:
    from tests.support.keystone import KeystoneInfo

__all__ = ["BACKENDS", "Portus", "free_port", "make_settings"]

# The databases the API and process tests run on; PORTUS_TEST_DATABASES=sqlite narrows it.
BACKENDS = [b for b in os.environ.get("PORTUS_TEST_DATABASES", "sqlite,postgres").split(",") if b]


class Portus:
    """A running Portus (uvicorn in a thread + controller) and an httpx client for it."""

    def __init__(self, settings: config.Settings) -> None:
        import uvicorn

        self.settings = settings
        upgrade(settings.db_url)
        self.db = Database(settings.db_url)
        self.waker = Waker()
        self.controller = build_controller(settings, self.db, self.waker)
        self.app = build_app(settings, self.db, self.waker.notify)
        cfg = uvicorn.Config(
            self.app, host=settings.host, port=settings.port, log_level="warning", lifespan="off"
        )
        self.server = uvicorn.Server(cfg)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://{settings.host}:{settings.port}"
        self.client = httpx.Client(base_url=self.url, timeout=30)

    def start(self) -> Portus:
        self.controller.start()
        self.thread.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if self.client.get("/").status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError("portus did not start")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.controller.stop()
        self.client.close()
        self.db.dispose()

    # -- helpers for tests -------------------------------------------------------------------
    def wait_for(
        self, path: str, key: str, status: str = "ACTIVE", timeout: float = 20
    ) -> dict[str, Any]:
        """Poll ``path`` until ``provisioning_status`` is ``status`` (or 404 for DELETED)."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            r = self.client.get(path)
            if status == "DELETED" and r.status_code == 404:
                return {}
            if r.status_code == 200:
                last = r.json()[key]
                if last["provisioning_status"] == status:
                    return dict(last)
                if last["provisioning_status"] == "ERROR" and status != "ERROR":
                    raise AssertionError(f"{path} went ERROR: {last}")
            time.sleep(0.02)
        raise AssertionError(f"{path} never reached {status}: {last}")

    def wait_for_with(
        self, client: httpx.Client, path: str, key: str, status: str = "ACTIVE", timeout: float = 20
    ) -> dict[str, Any]:
        """``wait_for`` with another client (e.g. one carrying a user's token)."""
        own = self.client
        self.client = client
        try:
            return self.wait_for(path, key, status, timeout)
        finally:
            self.client = own

    def wait_lb(self, lb_id: str, status: str = "ACTIVE", timeout: float = 20) -> dict[str, Any]:
        return self.wait_for(f"/v2/lbaas/loadbalancers/{lb_id}", "loadbalancer", status, timeout)

    def create_lb(self, **fields: Any) -> dict[str, Any]:
        body = {"vip_subnet_id": "public", **fields}
        r = self.client.post("/v2/lbaas/loadbalancers", json={"loadbalancer": body})
        assert r.status_code == 201, r.text
        lb = r.json()["loadbalancer"]
        return self.wait_lb(lb["id"])


def make_settings(tmp: Path, **overrides: Any) -> config.Settings:
    """Noop provider, SQLite under ``tmp`` unless ``database_url`` says otherwise."""
    overrides.pop("env_db", None)
    return config.from_env({}).with_(
        bind=f"127.0.0.1:{free_port()}",
        state_dir=tmp,
        provider="noop",
        controller_poll_seconds=0.05,
        **overrides,
    )


@contextlib.contextmanager
def keystone_portus(keystone: KeystoneInfo, state_dir: Path) -> Iterator[Portus]:
    """A noop Portus that authenticates through ``keystone`` and is in its catalog."""
    settings = make_settings(
        state_dir,
        auth_strategy="keystone",
        keystone_auth_url=keystone.auth_url,
        keystone_config=keystone.middleware_config(),
    )
    p = Portus(settings).start()
    keystone.register_portus(p.url)
    try:
        yield p
    finally:
        p.stop()
