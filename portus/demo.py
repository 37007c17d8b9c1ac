"""``portus demo``: a newcomer's first load balancer, end to end, against a running Portus.

It starts two tiny HTTP backends on the host's address on the ``public`` bridge, builds an LB
(listener, pool, health monitor, two members) through the public API, sends ten requests to the
VIP and prints who answered, then deletes everything it made.
"""

from __future__ import annotations

import http.server
import logging
import socketserver
import threading
import time
from typing import Any

import httpx


class _Backend:
    def __init__(self, address: str, name: str) -> None:
        body = f"hello from {name}\n".encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                return

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self.server = Server((address, 0), Handler)
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _wait(api: httpx.Client, lb_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lb: dict[str, Any] = api.get(f"/v2/lbaas/loadbalancers/{lb_id}").json()["loadbalancer"]
        if lb["provisioning_status"] in ("ACTIVE", "ERROR"):
            return lb
        time.sleep(0.05)
    raise SystemExit(f"load balancer {lb_id} did not become ACTIVE in {timeout}s")


def _post(api: httpx.Client, path: str, key: str, body: dict[str, Any]) -> dict[str, Any]:
    r = api.post(path, json={key: body})
    if r.status_code != 201:
        raise SystemExit(f"POST {path}: {r.status_code} {r.text}")
    created: dict[str, Any] = r.json()[key]
    return created


def run_demo(url: str) -> int:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    api = httpx.Client(base_url=url, timeout=30)
    subnets = api.get("/v2.0/subnets", params={"name": "public"}).json()["subnets"]
    gateway = subnets[0]["gateway_ip"]
    backends = [_Backend(gateway, "backend-1"), _Backend(gateway, "backend-2")]
    lb_id = None
    try:
        started = time.perf_counter()
        lb = _post(
            api,
            "/v2/lbaas/loadbalancers",
            "loadbalancer",
            {"name": "demo", "vip_subnet_id": "public"},
        )
        lb_id = lb["id"]
        _wait(api, lb_id)
        listener = _post(
            api,
            "/v2/lbaas/listeners",
            "listener",
            {"loadbalancer_id": lb_id, "protocol": "HTTP", "protocol_port": 80},
        )
        pool = _post(
            api,
            "/v2/lbaas/pools",
            "pool",
            {"listener_id": listener["id"], "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"},
        )
        _post(
            api,
            "/v2/lbaas/healthmonitors",
            "healthmonitor",
            {"pool_id": pool["id"], "type": "HTTP", "delay": 2, "timeout": 1, "max_retries": 2},
        )
        for b in backends:
            _post(
                api,
                f"/v2/lbaas/pools/{pool['id']}/members",
                "member",
                {"address": gateway, "protocol_port": b.port},
            )
        lb = _wait(api, lb_id)
        took = time.perf_counter() - started
        print(
            f"load balancer {lb_id} is {lb['provisioning_status']} at {lb['vip_address']}"
            f" ({took:.2f}s for LB + listener + pool + monitor + 2 members)"
        )
        with httpx.Client(timeout=5) as client:
            for i in range(10):
                answer = client.get(f"http://{lb['vip_address']}/").text.strip()
                print(f"  request {i + 1:2d}: {answer}")
        return 0
    finally:
        if lb_id:
            api.delete(f"/v2/lbaas/loadbalancers/{lb_id}", params={"cascade": "true"})
            print("deleted the demo load balancer")
        for b in backends:
            b.stop()
