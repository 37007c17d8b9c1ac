"""Amphora heartbeats: what each amphora's HAProxy sees, signed and sent to the health process.

Envelope (Octavia-compatible shape): ``zlib(json)`` followed by the HMAC-SHA256 of those bytes
as 64 lowercase hex digits. The payload adds what Octavia lacks against replay: ``epoch`` (a
random id per sender start), a strictly increasing ``seq`` within an epoch and the send time
``ts``; the receiver drops anything older than what it has already accepted.

Counters are *cumulative* per (amphora, listener) across HAProxy reloads (a reload starts the
new worker from zero; the sender folds the old total in), so a lost datagram loses nothing and
the receiver can compute deltas itself.

Liveness is read without the worker's socket (which refuses briefly during a seamless reload):
``alive`` is the master process, ``netns`` the namespace; either false means "rebuild me".
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import hmac
import io
import json
import logging
import os
import socket
import threading
import time
import zlib
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from portus.agent import haproxy, keepalived, netns, runtime, sockcli, udphealth
from portus.agent.errors import AgentError
from portus.agent.model import AmphoraInfo

log = logging.getLogger("portus.heartbeat")

DIGEST_HEX = 64
VERSION = "portus-1"
COUNTERS = ("rx", "tx", "conns", "totconns", "ereq")
Payload = dict[str, Any]


class BadSignature(ValueError):
    """The datagram is not signed with our key (forged, corrupted or another cloud's)."""


def sign(payload: Mapping[str, Any], key: bytes) -> bytes:
    body = zlib.compress(json.dumps(payload, separators=(",", ":")).encode(), 6)
    return body + hmac.new(key, body, hashlib.sha256).hexdigest().encode()


def verify(datagram: bytes, key: bytes) -> Payload:
    """The payload of a correctly signed datagram; raises BadSignature otherwise."""
    if len(datagram) <= DIGEST_HEX:
        raise BadSignature("too short")
    body, digest = datagram[:-DIGEST_HEX], datagram[-DIGEST_HEX:]
    expected = hmac.new(key, body, hashlib.sha256).hexdigest().encode()
    if not hmac.compare_digest(digest, expected):
        raise BadSignature("bad HMAC")
    try:
        payload = json.loads(zlib.decompress(body))
    except (zlib.error, ValueError) as exc:
        raise BadSignature(f"undecodable: {exc}") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("id"), str):
        raise BadSignature("not a heartbeat")
    return payload


# -- reading HAProxy -----------------------------------------------------------------------------


def parse_show_stat(text: str) -> list[dict[str, str]]:
    """Rows of ``show stat`` (CSV whose header line starts with ``# ``)."""
    lines = text.splitlines()
    if not lines or not lines[0].startswith("# "):
        return []
    reader = csv.DictReader(io.StringIO("\n".join([lines[0][2:], *lines[1:]])))
    return [dict(row) for row in reader if row.get("pxname")]


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def member_state(row: Mapping[str, str]) -> str:
    """HAProxy's server status, normalised: UP / DOWN / DRAIN / MAINT / no check."""
    status = (row.get("status") or "").strip()
    if status.startswith("MAINT"):
        return "MAINT"
    if status == "DRAIN" or (status.startswith("UP") and _int(row.get("weight")) == 0):
        return "DRAIN"
    if status.startswith("no check"):
        return "no check"
    if status.startswith("UP") or status == "NOLB":
        return "UP"
    if status.startswith("DOWN"):
        return "DOWN"
    return status or "no check"


def stat_report(
    rows: Iterable[Mapping[str, str]], skip: Collection[tuple[str, str]] = ()
) -> tuple[Payload, Payload]:
    """(listeners, pools) of a heartbeat from ``show stat`` rows (raw, per-worker counters).

    Frontends are named after listener ids, backends ``<pool>:<listener>``, servers after
    member ids (see portus.ir); anything else (stats, prometheus internals) is skipped, and
    so are the (backend, server) in ``skip``: removed members the worker still holds in
    maintenance until it can delete them (tombstones, see portus.agent.runtime).
    """
    listeners: Payload = {}
    pools: Payload = {}
    for row in rows:
        px, sv = row.get("pxname", ""), row.get("svname", "")
        if sv == "FRONTEND":
            listeners[px] = {
                "status": row.get("status", ""),
                "stats": {
                    "rx": _int(row.get("bin")),
                    "tx": _int(row.get("bout")),
                    "conns": _int(row.get("scur")),
                    "totconns": _int(row.get("stot")),
                    "ereq": _int(row.get("ereq")),
                },
            }
        elif sv == "BACKEND" and ":" in px:
            pools.setdefault(px, {"members": {}})["status"] = row.get("status", "")
        elif ":" in px and sv not in ("FRONTEND", "BACKEND") and (px, sv) not in skip:
            pools.setdefault(px, {"members": {}, "status": ""})["members"][sv] = member_state(row)
    return listeners, pools


@dataclass
class CounterFolder:
    """Keeps counters cumulative across HAProxy reloads: a drop means a new worker."""

    base: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    last: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)

    def fold(self, amphora_id: str, listener_id: str, raw: Mapping[str, int]) -> dict[str, int]:
        key = (amphora_id, listener_id)
        base = self.base.setdefault(key, dict.fromkeys(COUNTERS, 0))
        last = self.last.get(key)
        if last is not None and any(raw[k] < last[k] for k in COUNTERS if k != "conns"):
            for k in COUNTERS:
                if k != "conns":
                    base[k] += last[k]
        self.last[key] = {k: int(raw[k]) for k in COUNTERS}
        out = {k: base[k] + int(raw[k]) for k in COUNTERS}
        out["conns"] = int(raw["conns"])
        return out

    def forget(self, keep: set[str]) -> None:
        for store in (self.base, self.last):
            for key in [k for k in store if k[0] not in keep]:
                del store[key]


def observe(info: AmphoraInfo, folder: CounterFolder) -> Payload:
    """One amphora's body of a heartbeat (without id/seq/ts): liveness, states, counters."""
    run_dir = Path(info.run_dir)
    files = haproxy.HaproxyFiles(run_dir)
    alive = haproxy.master_pid(files) is not None
    ka = keepalived.KeepalivedFiles(run_dir)
    if ka.conf.exists() and keepalived.main_pid(ka) is None:
        alive = False  # ACTIVE_STANDBY without keepalived cannot take the VIP
    body: Payload = {
        "netns": netns.netns_exists(info.netns),
        "alive": alive,
        "listeners": {},
        "pools": {},
    }
    if not alive:
        return body
    try:
        text = sockcli.send(run_dir / "haproxy.sock", "show stat", timeout=1.0, retry_for=0.3)
    except AgentError:
        body["stats_ok"] = False  # reloading: states unknown this round, not a failure
        return body
    tombstones = runtime.names(runtime.tombstone_file(run_dir))
    listeners, pools = stat_report(parse_show_stat(text), tombstones)
    pools.update(udphealth.read_state(run_dir))  # UDP/SCTP pools: the agent's own checker
    for lid, entry in listeners.items():
        entry["stats"] = folder.fold(info.id, lid, entry["stats"])
    body["listeners"], body["pools"], body["stats_ok"] = listeners, pools, True
    return body


# -- sending -------------------------------------------------------------------------------------


class AmphoraSource(Protocol):
    def list_amphorae(self) -> list[AmphoraInfo]: ...


Extra = Callable[[AmphoraInfo], Payload]


class HeartbeatSender:
    """Sends one signed heartbeat per amphora every ``interval`` seconds, round-robin over
    ``targets`` (host, port). Runs as a daemon thread; ``beat_once`` is the unit for tests."""

    def __init__(
        self,
        source: AmphoraSource,
        key: bytes,
        targets: list[tuple[str, int]],
        *,
        interval: float = 1.0,
        extra: Extra | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not targets:
            raise ValueError("heartbeat needs at least one target")
        self.source = source
        self.key = key
        self.targets = targets
        self.interval = interval
        self.extra = extra
        self.clock = clock
        self.epoch = os.urandom(8).hex()
        self.seq = 0
        self.sent = 0
        self.folder = CounterFolder()
        self._next_target = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._socks: dict[int, socket.socket] = {}

    def _sock(self, family: int) -> socket.socket:
        if family not in self._socks:
            self._socks[family] = socket.socket(family, socket.SOCK_DGRAM)
        return self._socks[family]

    def payload(self, info: AmphoraInfo) -> Payload:
        self.seq += 1
        body = observe(info, self.folder)
        if self.extra is not None:
            body.update(self.extra(info))
        return {
            "id": info.id,
            "ver": VERSION,
            "epoch": self.epoch,
            "seq": self.seq,
            "ts": self.clock(),
            **body,
        }

    def beat_once(self) -> int:
        """Send one heartbeat per amphora; returns how many were sent."""
        amps = self.source.list_amphorae()
        self.folder.forget({a.id for a in amps})
        count = 0
        for info in amps:
            try:
                datagram = sign(self.payload(info), self.key)
            except Exception:  # one broken amphora must not silence the others
                log.exception("heartbeat for %s failed", info.id)
                continue
            host, port = self.targets[self._next_target % len(self.targets)]
            self._next_target += 1
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            with contextlib.suppress(OSError):
                self._sock(family).sendto(datagram, (host, port))
                count += 1
        self.sent += count
        return count

    def run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            self.beat_once()
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))

    def start(self) -> HeartbeatSender:
        self._thread = threading.Thread(target=self.run, name="heartbeat", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for sock in self._socks.values():
            sock.close()
        self._socks.clear()


def load_key(path: Path, configured: str | None = None) -> bytes:
    """The shared HMAC key: ``configured`` if given, else the one kept at ``path`` (created
    with 32 random bytes, mode 0600, on first use)."""
    if configured:
        return configured.encode()
    with contextlib.suppress(FileNotFoundError):
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        key = os.urandom(32).hex().encode()
        f.write(key)
    return key
