"""Anti-replay for heartbeats: each amphora's (epoch, seq, ts) may only move forward.

A signed datagram captured on the wire could otherwise be sent again later to make a dead
amphora look alive. Accepted: a higher ``seq`` in the same ``epoch`` (the sender's run), or a
new epoch with a newer ``ts`` (the sender restarted); and always ``ts`` within ``max_skew``
seconds of our clock, so a replay of a never-seen old datagram is refused too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass
class _Last:
    epoch: str
    seq: int
    ts: float


class ReplayGuard:
    def __init__(self, clock: Callable[[], float], max_skew: float = 30.0) -> None:
        self.clock = clock
        self.max_skew = max_skew
        self._last: dict[str, _Last] = {}

    def check(self, payload: Mapping[str, Any]) -> str | None:
        """None if fresh (and remembered), else the reason it is refused."""
        try:
            amp = str(payload["id"])
            epoch = str(payload["epoch"])
            seq = int(payload["seq"])
            ts = float(payload["ts"])
        except (KeyError, TypeError, ValueError):
            return "malformed"
        if abs(self.clock() - ts) > self.max_skew:
            return "stale"
        last = self._last.get(amp)
        if last is not None:
            if epoch == last.epoch and seq <= last.seq:
                return "replayed"
            if epoch != last.epoch and ts <= last.ts:
                return "replayed"
        self._last[amp] = _Last(epoch, seq, ts)
        return None

    def forget(self, amphora_id: str) -> None:
        self._last.pop(amphora_id, None)
