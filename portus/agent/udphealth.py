"""Health checks for UDP/SCTP pools, enforced through the nftables maps the renderer declares.

HAProxy does not proxy UDP/SCTP; those listeners are nftables DNAT rules whose member choice
comes from a named map ``<selector> mod N`` with exactly N slots (``portus.render.nftables``).
Deleting a dead member's slots would leave holes: ``numgen inc`` keeps counting through them
and every datagram landing on a hole is dropped. So the amphora checker (``SlotChecker``)
keeps the slot count and *re-points* a dead member's slots at live members, round robin over
the live slots' targets (weights stay roughly proportional; jhash persistence stays stable for
clients of live members). When no member is up the rendered slots stay: traffic to a pool with
no live member is lost either way. The map is rewritten as one ``nft -f`` transaction
(``flush map`` + ``add element``), so no packet sees a half-written map.

Lifecycle: the reconciler ships the checks as the JSON file ``SPEC_FILE`` with the amphora's
files; ``Agent.apply`` hands it to ``UdpHealthSupervisor.configure`` (one thread per amphora,
restarted with the members' up/down state carried over, then the map is re-pushed at once
because an nft apply resets it), ``delete_amphora`` stops it. Member states are written to
``STATE_FILE`` in the run dir, which the heartbeat sender merges into its ``pools`` (so UDP
members become ONLINE/ERROR like HAProxy's; unchecked pools report ``no check``).

Probes: UDP-CONNECT/SCTP (a datagram; ICMP port unreachable means down, silence means up, as
in Octavia), TCP (connect), HTTP (GET, status in the expected codes). The older
set-based ``UdpHealthChecker`` (elements added/removed) remains for plain nft sets.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from portus.agent.cmd import run
from portus.agent.errors import AgentError
from portus.agent.netns import call_in_netns

log = logging.getLogger("portus.udphealth")

SPEC_FILE = "udphealth.json"
STATE_FILE = "udphealth-state.json"
TABLE = "inet portus"


@dataclass(frozen=True)
class UdpMember:
    """A member and the exact nft element text that routes traffic to it."""

    address: str
    port: int
    element: str
    check: str = "UDP-CONNECT"
    timeout: float = 1.0
    http_path: str = "/"
    expected_codes: tuple[int, ...] = (200,)
    rise: int = 1
    fall: int = 1


@dataclass(frozen=True)
class NftMap:
    family: str
    table: str
    name: str


def _family(address: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def probe_member(m: UdpMember) -> bool:
    """One probe from the calling thread's namespace; True means healthy."""
    if m.check in ("UDP-CONNECT", "SCTP"):
        with socket.socket(_family(m.address), socket.SOCK_DGRAM) as sock:
            sock.settimeout(m.timeout)
            try:
                sock.connect((m.address, m.port))
                sock.send(b"portus-health\n")
                sock.recv(512)
            except ConnectionRefusedError:
                return False
            except TimeoutError:
                return True
            except OSError:
                return False
            return True
    with socket.socket(_family(m.address), socket.SOCK_STREAM) as sock:
        sock.settimeout(m.timeout)
        try:
            sock.connect((m.address, m.port))
            if m.check != "HTTP":
                return True
            host = f"[{m.address}]" if ":" in m.address else m.address
            sock.sendall(f"GET {m.http_path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
            head = sock.recv(64).decode(errors="replace").split()
        except OSError:
            return False
    return len(head) > 1 and head[1].isdigit() and int(head[1]) in m.expected_codes


def probe_all(netns: str, members: Sequence[UdpMember]) -> dict[str, bool]:
    """Probe every member from inside ``netns``; keyed by element text."""

    def work() -> dict[str, bool]:
        return {m.element: probe_member(m) for m in members}

    timeout = sum(m.timeout for m in members) + 5.0
    return call_in_netns(netns, work, timeout=timeout)


def plan(target: NftMap, wanted: Mapping[str, bool], present: Iterable[str]) -> list[str]:
    """nft commands turning the elements ``present`` into the healthy ones of ``wanted``."""
    have = set(present)
    cmds: list[str] = []
    ref = f"{target.family} {target.table} {target.name}"
    for element, up in sorted(wanted.items()):
        if up and element not in have:
            cmds.append(f"add element {ref} {{ {element} }}")
        elif not up and element in have:
            cmds.append(f"delete element {ref} {{ {element} }}")
    return cmds


@dataclass
class UdpHealthChecker:
    """Stateful checker for one pool: rise/fall counting, and the elements it has installed."""

    netns: str
    target: NftMap
    members: Sequence[UdpMember]
    installed: set[str] | None = None  # None: the rendered map holds every member at start
    _streak: dict[str, int] = field(default_factory=dict)

    def run_once(self) -> dict[str, bool]:
        """Probe all members once, update the nft map, return element -> in service."""
        results = probe_all(self.netns, self.members)
        if self.installed is None:
            self.installed = {m.element for m in self.members}
        wanted: dict[str, bool] = {}
        for m in self.members:
            ok = results[m.element]
            previous = m.element in self.installed
            streak = self._streak.get(m.element, 0)
            streak = (streak + 1) if ok != previous else 0
            needed = m.rise if ok else m.fall
            if streak >= needed:
                wanted[m.element], streak = ok, 0
            else:
                wanted[m.element] = previous
            self._streak[m.element] = streak
        commands = plan(self.target, wanted, self.installed)
        if commands:
            batch = "\n".join(commands) + "\n"
            if run(["nft", "-f", "-"], netns=self.netns, input_text=batch, check=False).returncode:
                # One stale element fails the whole batch; apply what can be applied.
                for one in commands:
                    run(["nft", "-f", "-"], netns=self.netns, input_text=f"{one}\n", check=False)
        self.installed = {e for e, up in wanted.items() if up}
        return wanted

    def loop(self, stop: threading.Event, interval: float = 5.0) -> None:
        """Check every ``interval`` seconds until ``stop`` is set (run it in a thread)."""
        while not stop.is_set():
            with contextlib.suppress(AgentError):
                self.run_once()
            stop.wait(interval)


# -- slot maps of amphorae -----------------------------------------------------------------------

Target = tuple[str, int]


@dataclass(frozen=True)
class Check:
    """A health monitor as the agent runs it (seconds; rise/fall in consecutive probes)."""

    kind: str
    interval: float
    timeout: float
    rise: int = 1
    fall: int = 1
    http_path: str = "/"
    expected_codes: tuple[int, ...] = (200,)


@dataclass(frozen=True)
class SlotMember:
    id: str
    address: str
    port: int
    check_address: str
    check_port: int


@dataclass(frozen=True)
class SlotService:
    """One UDP/SCTP listener's map: ``slots[i]`` is where slot ``i`` sends traffic."""

    pool_key: str  # "<pool id>:<listener id>", as HAProxy backends are named in heartbeats
    family: str  # "ip" or "ip6"
    map_name: str
    slots: tuple[Target, ...]
    members: tuple[SlotMember, ...]
    check: Check | None


def spec_to_json(services: Sequence[SlotService]) -> str:
    return json.dumps({"services": [asdict(s) for s in services]}, sort_keys=True, indent=1)


def spec_from_json(text: str) -> list[SlotService]:
    out: list[SlotService] = []
    for raw in json.loads(text).get("services", []):
        check = raw.get("check")
        out.append(
            SlotService(
                pool_key=str(raw["pool_key"]),
                family=str(raw["family"]),
                map_name=str(raw["map_name"]),
                slots=tuple((str(a), int(p)) for a, p in raw["slots"]),
                members=tuple(SlotMember(**m) for m in raw["members"]),
                check=None
                if check is None
                else Check(**{**check, "expected_codes": tuple(check["expected_codes"])}),
            )
        )
    return out


def codes_of(expect: tuple[str, str] | None) -> tuple[int, ...]:
    """HTTP status codes of an ``http-check expect`` pair (``status`` or anchored ``rstatus``)."""
    if expect is None:
        return (200,)
    return tuple(int(c) for c in re.findall(r"\d{3}", expect[1])) or (200,)


def repoint(slots: Sequence[Target], up: Mapping[Target, bool]) -> tuple[Target, ...]:
    """Slots with every dead target replaced by live ones (round robin over the live slots),
    keeping the slot count; unchanged when nothing is up."""
    live = [t for t in slots if up.get(t, True)]
    if not live:
        return tuple(slots)
    out: list[Target] = []
    nxt = 0
    for t in slots:
        if up.get(t, True):
            out.append(t)
        else:
            out.append(live[nxt % len(live)])
            nxt += 1
    return tuple(out)


def _element(family: str, target: Target) -> str:
    addr = f"[{target[0]}]" if family == "ip6" else target[0]
    return f"{addr} . {target[1]}"


def map_batch(svc: SlotService, slots: Sequence[Target]) -> str:
    """An ``nft -f`` batch rewriting the whole map atomically."""
    ref = f"{TABLE} {svc.map_name}"
    elements = ", ".join(f"{i} : {_element(svc.family, t)}" for i, t in enumerate(slots))
    return f"flush map {ref}\nadd element {ref} {{ {elements} }}\n"


def pool_report(services: Sequence[SlotService], up: Mapping[str, bool]) -> dict[str, Any]:
    """Heartbeat ``pools`` entries (member id -> UP/DOWN/no check) for these services."""
    pools: dict[str, Any] = {}
    for svc in services:
        entry = pools.setdefault(svc.pool_key, {"members": {}, "status": "UP"})
        for m in svc.members:
            if svc.check is None:
                entry["members"][m.id] = "no check"
            else:
                entry["members"][m.id] = "UP" if up.get(m.id, True) else "DOWN"
    for entry in pools.values():
        states = list(entry["members"].values())
        if states and all(s == "DOWN" for s in states):
            entry["status"] = "DOWN"
    return pools


def _probe_target(m: SlotMember, check: Check) -> UdpMember:
    return UdpMember(
        m.check_address,
        m.check_port,
        m.id,
        check=check.kind,
        timeout=check.timeout,
        http_path=check.http_path,
        expected_codes=check.expected_codes,
    )


@dataclass
class SlotChecker:
    """Rise/fall state of one service's members and the slots installed in its map."""

    netns: str
    service: SlotService
    up: dict[str, bool] = field(default_factory=dict)  # member id -> in service
    installed: tuple[Target, ...] | None = None  # None: unknown, push on the next sync
    _streak: dict[str, int] = field(default_factory=dict)

    def observe(self, healthy: Mapping[str, bool]) -> None:
        """Fold one probe round (member id -> probe ok) into the up/down state."""
        check = self.service.check
        assert check is not None
        for mid, ok in healthy.items():
            previous = self.up.get(mid, True)
            streak = (self._streak.get(mid, 0) + 1) if ok != previous else 0
            if streak >= (check.rise if ok else check.fall):
                self.up[mid], streak = ok, 0
            self._streak[mid] = streak

    def desired(self) -> tuple[Target, ...]:
        targets: dict[Target, bool] = {}
        for m in self.service.members:
            key = (m.address, m.port)
            targets[key] = targets.get(key, False) or self.up.get(m.id, True)
        return repoint(self.service.slots, targets)

    def sync(self) -> None:
        """Push the desired slots when they differ from what is installed."""
        want = self.desired()
        if want == self.installed or not want:
            return
        done = run(
            ["nft", "-f", "-"],
            netns=self.netns,
            input_text=map_batch(self.service, want),
            check=False,
        )
        self.installed = want if done.returncode == 0 else None

    def run_once(self) -> None:
        check = self.service.check
        if check is None:
            return
        probes = [_probe_target(m, check) for m in self.service.members]
        self.observe(probe_all(self.netns, probes))
        self.sync()


class UdpHealthSupervisor:
    """One checking thread per amphora (keyed by run dir), configured from ``SPEC_FILE``."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._runs: dict[str, _AmphoraRun] = {}

    def configure(self, netns: str, run_dir: Path, spec_text: str | None) -> None:
        """(Re)start checking ``run_dir``'s amphora after its nft ruleset was applied."""
        key = str(run_dir)
        with self._guard:
            old = self._runs.pop(key, None)
        known: dict[str, bool] = {}
        if old is not None:
            old.stop()
            known = old.known_up()
        if not spec_text:
            (run_dir / STATE_FILE).unlink(missing_ok=True)
            return
        services = spec_from_json(spec_text)
        checkers = [SlotChecker(netns, s) for s in services]
        for c in checkers:
            c.up = {m.id: known[m.id] for m in c.service.members if m.id in known}
            with contextlib.suppress(AgentError):
                c.sync()  # an nft apply reset the map to every member: re-point at once
        new = _AmphoraRun(run_dir, checkers)
        new.write_state()
        with self._guard:
            self._runs[key] = new
        new.start()

    def stop(self, run_dir: Path) -> None:
        with self._guard:
            old = self._runs.pop(str(run_dir), None)
        if old is not None:
            old.stop()

    def stop_all(self) -> None:
        with self._guard:
            runs, self._runs = list(self._runs.values()), {}
        for r in runs:
            r.stop()


class _AmphoraRun:
    def __init__(self, run_dir: Path, checkers: list[SlotChecker]) -> None:
        self.run_dir = run_dir
        self.checkers = checkers
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._written: str | None = None

    def known_up(self) -> dict[str, bool]:
        return {k: v for c in self.checkers for k, v in c.up.items()}

    def write_state(self) -> None:
        up = self.known_up()
        text = json.dumps({"pools": pool_report([c.service for c in self.checkers], up)})
        if text != self._written and self.run_dir.is_dir():
            tmp = self.run_dir / (STATE_FILE + ".tmp")
            tmp.write_text(text)
            os.replace(tmp, self.run_dir / STATE_FILE)
            self._written = text

    def start(self) -> None:
        if any(c.service.check is not None for c in self.checkers):
            self._thread = threading.Thread(target=self._loop, name="udphealth", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        due = {id(c): 0.0 for c in self.checkers if c.service.check is not None}
        while not self._stop.is_set():
            now = time.monotonic()
            for c in self.checkers:
                if c.service.check is None or due[id(c)] > now:
                    continue
                due[id(c)] = now + c.service.check.interval
                try:
                    c.run_once()
                except Exception:  # one bad probe round must not end the checking
                    log.exception("UDP health round for %s failed", c.service.map_name)
            with contextlib.suppress(OSError):
                self.write_state()
            self._stop.wait(max(0.05, min(due.values()) - time.monotonic()))

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)


def read_state(run_dir: Path) -> dict[str, Any]:
    """The checker's heartbeat ``pools`` entries for an amphora ({} when it has none)."""
    try:
        data = json.loads((run_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}
    pools = data.get("pools") if isinstance(data, dict) else None
    return pools if isinstance(pools, dict) else {}
