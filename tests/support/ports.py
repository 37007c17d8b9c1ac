"""Free TCP ports on the loopback address, for servers the tests start."""

from __future__ import annotations

import socket
import threading
import time

_handed_out: set[int] = set()
_lock = threading.Lock()


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on `host` that nothing listens on right now.

    The kernel picks an unused ephemeral port; we never hand out the same port twice in one
    test process, so two servers started back to back cannot be given the same one before
    either has bound it. A race with unrelated processes remains possible: callers that
    start a server should retry with a new port if binding fails.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(64):
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port = int(sock.getsockname()[1])
        with _lock:
            if port not in _handed_out:
                _handed_out.add(port)
                return port
    raise RuntimeError(f"no free TCP port found on {host}")


def wait_for_port(host: str, port: int, timeout: float) -> bool:
    """Whether a TCP connect to host:port succeeds within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
