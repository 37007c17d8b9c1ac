"""Execute member changes through HAProxy's runtime API (no reload).

Removing a server (HAProxy 2.6)
-------------------------------
``del server`` is refused while the server has requests in flight or idle pooled connections
(``http-reuse``). Putting it in maintenance closes its idle connections, but a request still in
flight hands its connection back to the idle pool when it ends, and only the purge task
(``pool-purge-delay``, halving the excess every 5 s) closes it then: 5-15 s of refusals. Any
change of the server's address or port closes its idle connections at once, so a refused
``del server`` is followed by a port change of the (maintenance-mode, unused) server and tried
again. What still refuses after ``settle`` seconds has a request in flight: the server stays
in maintenance as a *tombstone* (no traffic reaches it; the rendered file no longer has it) and
``sweep`` deletes it later, cutting its sessions only after a grace period. A reload drops
tombstones on its own, and a member re-added while its tombstone exists is revived in place.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Collection, Mapping, MutableMapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from portus.agent.cfgdiff import RuntimeOp, ServerLine
from portus.agent.errors import AgentError

Send = Callable[[str], str]

REFUSED = "still has connections"


class NotRemovable(AgentError):
    """HAProxy answered a removal step with something other than "deleted" or "not yet"."""


@dataclass(frozen=True)
class Tombstone:
    """A removed server left in maintenance in the running worker until it can be deleted."""

    server: ServerLine
    since: float  # wall clock, so it survives an agent restart
    port_now: int  # the port it was last parked on (changes purge idle connections)
    cut: bool = False  # sessions already shut down

    @property
    def ref(self) -> str:
        return f"{self.server.proxy}/{self.server.name}"


Tombstones = MutableMapping[str, Tombstone]


@dataclass
class Ran:
    """What ``run_ops`` did: the commands sent and the removals left as tombstones."""

    commands: list[str]
    tombstoned: list[str]


def answer_ok(command: str, answer: str) -> bool:
    """Whether a runtime-API answer means success (HAProxy answers in prose, per command)."""
    text = answer.strip()
    if command.startswith("add server"):
        return "New server registered" in text
    if command.startswith("del server"):
        return "Server deleted" in text
    if command.startswith("set server") and " addr " in command:
        return "changed" in text or "no need to change" in text
    return text == ""


def _split(address: str) -> tuple[str, int] | None:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def new_tombstone(server: ServerLine) -> Tombstone:
    hp = _split(server.address)
    return Tombstone(server, time.time(), hp[1] if hp else 0)


def _purge_idle(send: Send, tomb: Tombstone, done: list[str]) -> Tombstone:
    """Close the idle pooled connections of ``tomb``'s server by moving its port."""
    hp = _split(tomb.server.address)
    if hp is None:
        return tomb
    host, port = hp
    alt = port + 1 if port < 65535 else port - 1
    parked = alt if tomb.port_now == port else port
    command = f"set server {tomb.ref} addr {host} port {parked}"
    answer = send(command)
    done.append(command)
    if not answer_ok(command, answer):
        raise NotRemovable(f"purge {tomb.ref}: {command!r} -> {answer.strip()!r}")
    return replace(tomb, port_now=parked)


def try_delete(
    send: Send, tomb: Tombstone, done: list[str], settle: float = 0.0
) -> tuple[bool, Tombstone]:
    """``del server`` (server already in maintenance), purging idle connections when refused.

    Tries for up to ``settle`` seconds; returns (gone, tombstone as updated). A server the
    worker does not know counts as gone. Any other refusal raises NotRemovable.
    """
    deadline = time.monotonic() + settle
    command = f"del server {tomb.ref}"
    while True:
        answer = send(command)
        done.append(command)
        if answer_ok(command, answer) or "No such server" in answer:
            return True, tomb
        if REFUSED not in answer:
            raise NotRemovable(f"remove {tomb.ref}: {command!r} -> {answer.strip()!r}")
        tomb = _purge_idle(send, tomb, done)
        answer = send(command)
        done.append(command)
        if answer_ok(command, answer):
            return True, tomb
        if time.monotonic() >= deadline:
            return False, tomb
        time.sleep(0.02)


def run_ops(
    send: Send,
    ops: Sequence[RuntimeOp],
    tombstones: Tombstones | None = None,
    settle: float = 0.2,
) -> Ran:
    """Run ``ops`` in order. Raise AgentError on the first failure.

    A removal whose ``del server`` still refuses after ``settle`` seconds (requests in flight)
    is left in maintenance and recorded in ``tombstones``; ops that re-add a tombstoned server
    (``op.kind == "revive"`` or ``"replace"``) take it out of ``tombstones``.
    """
    tombs: Tombstones = {} if tombstones is None else tombstones
    ran = Ran([], [])
    for op in ops:
        for command in op.commands:
            if command.startswith("del server") and op.kind == "remove" and op.server:
                gone, tomb = try_delete(send, new_tombstone(op.server), ran.commands, settle)
                if not gone:
                    tombs[tomb.ref] = tomb
                    ran.tombstoned.append(tomb.ref)
                continue
            ref = command.removeprefix("del server ")
            if command.startswith("del server") and op.kind == "replace" and ref in tombs:
                gone, _ = try_delete(send, tombs[ref], ran.commands, settle)
                if not gone:
                    raise AgentError(f"{op.description}: {ref} still serves a request")
                continue
            answer = send(command)
            ran.commands.append(command)
            if not answer_ok(command, answer):
                raise AgentError(f"{op.description}: {command!r} -> {answer.strip()!r}")
        if op.kind in ("revive", "replace") and op.server is not None:
            tombs.pop(f"{op.server.proxy}/{op.server.name}", None)
    return ran


def sweep(
    send: Send,
    tombstones: Tombstones,
    live: Collection[tuple[str, str]],
    grace: float,
    now: float | None = None,
) -> list[str]:
    """One attempt at deleting every tombstone; those deleted (or stale) leave ``tombstones``.

    ``live`` are the servers of the running file: a tombstone with such a name is stale (a
    reload re-created the server) and is forgotten, never deleted. After ``grace`` seconds a
    tombstone's remaining sessions are shut down first. Returns the commands sent.
    """
    now = time.time() if now is None else now
    done: list[str] = []
    for ref, tomb in list(tombstones.items()):
        if (tomb.server.proxy, tomb.server.name) in live:
            del tombstones[ref]
            continue
        if not tomb.cut and now - tomb.since >= grace:
            command = f"shutdown sessions server {ref}"
            send(command)
            done.append(command)
            tomb = replace(tomb, cut=True)
        try:
            gone, tomb = try_delete(send, tomb, done)
        except NotRemovable:
            gone = True  # not in maintenance any more (or gone): not ours to delete
        if gone:
            del tombstones[ref]
        else:
            tombstones[ref] = tomb
    return done


# -- persistence (one JSON file per amphora, next to haproxy.cfg) --------------------------------


TOMBSTONE_FILE = "haproxy.tombstones.json"


def tombstone_file(run_dir: Path) -> Path:
    return run_dir / TOMBSTONE_FILE


def load(path: Path) -> dict[str, Tombstone]:
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    out: dict[str, Tombstone] = {}
    if not isinstance(raw, dict):
        return out
    with contextlib.suppress(KeyError, TypeError, ValueError):
        for ref, t in raw.items():
            s = t["server"]
            server = ServerLine(
                str(s["proxy"]),
                str(s["name"]),
                str(s["address"]),
                int(s["weight"]),
                bool(s["disabled"]),
                tuple(str(o) for o in s["options"]),
            )
            out[str(ref)] = Tombstone(server, float(t["since"]), int(t["port_now"]), bool(t["cut"]))
    return out


def save(path: Path, tombstones: Mapping[str, Tombstone]) -> None:
    if not tombstones:
        path.unlink(missing_ok=True)
        return
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({ref: asdict(t) for ref, t in tombstones.items()}, indent=1))
    os.replace(tmp, path)


def names(path: Path) -> set[tuple[str, str]]:
    """(backend, server) of the tombstones recorded at ``path`` (cheap when there are none)."""
    if not path.exists():
        return set()
    return {(t.server.proxy, t.server.name) for t in load(path).values()}
