"""Health checks for UDP/SCTP pools, enforced through an nftables map or set.

HAProxy does not proxy UDP/SCTP; those listeners are nftables rules whose member choice comes
from a named map (or set) the renderer declares. This checker probes members from inside the
amphora and keeps only the healthy ones' elements in it, so down members get no traffic.
Probes: UDP-CONNECT (a datagram; ICMP port unreachable means down, silence means up, as in
Octavia), TCP (connect), HTTP (GET, status in the expected codes).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from portus.agent.cmd import run
from portus.agent.errors import AgentError
from portus.agent.netns import call_in_netns


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
