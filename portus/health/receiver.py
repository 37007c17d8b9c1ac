"""The UDP side of the health process: verify, refuse replays, count, hand over.

Runs in its own thread so a slow database never makes the socket buffer overflow; work is
handed to the processor through a queue, and the counters say what was dropped and why.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from portus.agent.heartbeat import BadSignature, verify
from portus.health.replay import ReplayGuard

log = logging.getLogger("portus.health")

Beat = tuple[float, dict[str, Any]]  # (receive time, payload)


class Receiver:
    """Accepts datagrams (from a socket, or ``feed`` in tests and benchmarks)."""

    def __init__(
        self,
        key: bytes,
        clock: Callable[[], float],
        *,
        max_skew: float = 30.0,
        max_queue: int = 100_000,
    ) -> None:
        self.key = key
        self.clock = clock
        self.guard = ReplayGuard(clock, max_skew)
        self.queue: queue.Queue[Beat] = queue.Queue(max_queue)
        self.counters: Counter[str] = Counter()
        self.sock: socket.socket | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def feed(self, datagram: bytes) -> str:
        """Handle one datagram; returns the counter it landed in ("accepted" or a drop)."""
        try:
            payload = verify(datagram, self.key)
        except BadSignature:
            outcome = "forged"
        else:
            with self._lock:
                refused = self.guard.check(payload)
            if refused is not None:
                outcome = refused
            else:
                try:
                    self.queue.put_nowait((self.clock(), payload))
                    outcome = "accepted"
                except queue.Full:
                    outcome = "overflow"
        self.counters[outcome] += 1
        if outcome != "accepted" and self.counters[outcome] in (1, 100, 10_000):
            log.warning("heartbeat dropped (%s); %d so far", outcome, self.counters[outcome])
        return outcome

    def bind(self, host: str, port: int) -> tuple[str, int]:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        sock.bind((host, port))
        sock.settimeout(0.2)
        self.sock = sock
        addr = sock.getsockname()
        return str(addr[0]), int(addr[1])

    def run(self) -> None:
        assert self.sock is not None
        while not self._stop.is_set():
            try:
                datagram = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            self.feed(datagram)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="health-rx", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.sock is not None:
            self.sock.close()
