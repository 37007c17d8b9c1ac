"""Hand the VIP over the moment an ACTIVE_STANDBY amphora's HAProxy dies.

keepalived can only learn of a dead HAProxy through its ``track_script``, whose interval is at
least 1 s (dataplane.md §4.3: median 234 ms, max 540 ms at advert_int 0.01), and the health
process needs a heartbeat round trip or two. The agent started HAProxy and knows its master
PID, so it watches it through a pidfd (the kernel wakes us on exit; no polling) and at once
sends keepalived SIGTERM: keepalived's priority-0 advert makes the peer take the VIP after its
skew time (~30 ms at advert_int 0.05) instead of 3 x advert_int + skew or the script interval.
The amphora is then as dead as it was (no HAProxy, no keepalived); the health process rebuilds
it and the replacement joins as BACKUP.

A seamless reload re-executes the HAProxy master in place (same PID), so the watch survives it.
The agent stops watching before anything it does on purpose could end HAProxy (apply, delete)
and re-arms after an apply with whatever master PID then runs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import threading
from collections.abc import Callable

log = logging.getLogger("portus.vipguard")


class _Watch:
    def __init__(self, pid: int, on_death: Callable[[], None]) -> None:
        self.pidfd = os.pidfd_open(pid)  # raises ProcessLookupError if already gone
        self.wake_r, self.wake_w = os.pipe()
        self.on_death = on_death
        self.thread = threading.Thread(target=self._run, name=f"vipguard-{pid}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            ready, _, _ = select.select([self.pidfd, self.wake_r], [], [])
            if self.pidfd in ready and self.wake_r not in ready:
                self.on_death()
        except Exception:  # a failed hand-over must not kill the agent; the health process
            log.exception("VIP hand-over failed")  # still sees the amphora die
        finally:
            os.close(self.pidfd)

    def cancel(self) -> None:
        os.write(self.wake_w, b"x")
        self.thread.join(timeout=5)
        os.close(self.wake_r)
        os.close(self.wake_w)


class VipGuard:
    """One watch per amphora (keyed by any string, e.g. its run dir)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._watches: dict[str, _Watch] = {}

    def watch(self, key: str, haproxy_pid: int, on_death: Callable[[], None]) -> None:
        self.unwatch(key)
        try:
            w = _Watch(haproxy_pid, on_death)
        except ProcessLookupError:
            on_death()
            return
        with self._guard:
            self._watches[key] = w

    def unwatch(self, key: str) -> None:
        with self._guard:
            w = self._watches.pop(key, None)
        if w is not None:
            w.cancel()


def sigterm(pid: int | None) -> Callable[[], None]:
    """An ``on_death`` that sends SIGTERM to ``pid`` (keepalived: priority-0 advert, VIP
    released)."""

    def act() -> None:
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
                log.warning("HAProxy died: keepalived %d stopped to hand the VIP over", pid)

    return act
