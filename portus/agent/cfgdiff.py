"""Minimal haproxy.cfg reading: sections, server lines, binds, and the member-only delta.

This is deliberately not a full parser. It answers one question — "do these two configs
differ only in backend server lines that the runtime API can change?" — plus what the
agent must know to probe (bind addresses) and to keep state across reloads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

SECTIONS = frozenset(
    {
        "global",
        "defaults",
        "frontend",
        "backend",
        "listen",
        "peers",
        "resolvers",
        "userlist",
        "mailers",
        "program",
        "cache",
        "ring",
        "http-errors",
        "log-forward",
        "fcgi-app",
    }
)
PROXIES_WITH_SERVERS = frozenset({"backend", "listen"})
PROXIES_WITH_BINDS = frozenset({"frontend", "listen"})
NON_TCP_BIND_PREFIXES = ("unix@", "abns@", "fd@", "sockpair@", "udp", "quic", "/")


@dataclass(frozen=True)
class ServerLine:
    """A ``server`` line split into what the runtime API can change and everything else."""

    proxy: str
    name: str
    address: str
    weight: int
    disabled: bool
    options: tuple[str, ...]


@dataclass(frozen=True)
class ParsedConfig:
    skeleton: tuple[str, ...]
    servers: Mapping[tuple[str, str], ServerLine]
    binds: tuple[tuple[str, int], ...]
    server_state_file: str | None
    proxies_with_default_server: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class RuntimeOp:
    """One member change as runtime-API commands, executed in order.

    ``kind`` is add / remove / update / revive / replace; ``server`` the line concerned (the
    removed one for "remove", the new one otherwise).
    """

    description: str
    commands: tuple[str, ...]
    kind: str = "update"
    server: ServerLine | None = None


def _strip_comment(line: str) -> str:
    out: list[str] = []
    quote = ""
    for ch in line:
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            break
        out.append(ch)
    return "".join(out).strip()


def parse_server(proxy: str, tokens: list[str]) -> ServerLine:
    weight = 1
    disabled = False
    options: list[str] = []
    rest = tokens[3:]
    i = 0
    while i < len(rest):
        tok = rest[i]
        if tok == "weight" and i + 1 < len(rest):
            weight = int(rest[i + 1])
            i += 2
            continue
        if tok == "disabled":
            disabled = True
        elif tok == "enabled":
            disabled = False
        else:
            options.append(tok)
        i += 1
    return ServerLine(proxy, tokens[1], tokens[2], weight, disabled, tuple(options))


def parse_bind(token: str) -> list[tuple[str, int]]:
    """Addresses a ``bind`` token listens on (TCP only; wildcards become loopback)."""
    out: list[tuple[str, int]] = []
    for part in token.split(","):
        if not part or part.startswith(NON_TCP_BIND_PREFIXES):
            continue
        family = ""
        if part.startswith(("ipv4@", "ipv6@")):
            family, part = part[:4], part[5:]
        host, _, port = part.rpartition(":")
        host = host.strip("[]")
        port = port.split("-")[0]
        if not port.isdigit():
            continue
        if host in ("", "*", "0.0.0.0"):
            host = "::1" if family == "ipv6" else "127.0.0.1"
        elif host == "::":
            host = "::1"
        out.append((host, int(port)))
    return out


def parse(text: str) -> ParsedConfig:
    skeleton: list[str] = []
    servers: dict[tuple[str, str], ServerLine] = {}
    binds: list[tuple[str, int]] = []
    state_file: str | None = None
    with_default: set[str] = set()
    kind, name, disabled_proxy = "", "", False
    pending_binds: list[tuple[str, int]] = []

    def close_section() -> None:
        if kind in PROXIES_WITH_BINDS and not disabled_proxy:
            binds.extend(pending_binds)
        pending_binds.clear()

    for raw in text.splitlines():
        line = _strip_comment(raw)
        if not line:
            continue
        tokens = line.split()
        if tokens[0] in SECTIONS:
            close_section()
            kind = tokens[0]
            name = tokens[1] if len(tokens) > 1 else ""
            disabled_proxy = False
            skeleton.append(line)
            continue
        if kind in PROXIES_WITH_SERVERS and tokens[0] == "server" and len(tokens) >= 3:
            srv = parse_server(name, tokens)
            servers[(name, srv.name)] = srv
            continue
        skeleton.append(line)
        if tokens[0] == "default-server":
            with_default.add(name if kind != "defaults" else "*")
        elif kind == "global" and tokens[0] == "server-state-file" and len(tokens) > 1:
            state_file = tokens[1]
        elif kind in PROXIES_WITH_BINDS and tokens[0] == "bind" and len(tokens) > 1:
            pending_binds.extend(parse_bind(tokens[1]))
        elif kind in PROXIES_WITH_BINDS and tokens[0] == "disabled":
            disabled_proxy = True
    close_section()
    return ParsedConfig(tuple(skeleton), servers, tuple(binds), state_file, frozenset(with_default))


def _add_ops(srv: ServerLine) -> RuntimeOp:
    ref = f"{srv.proxy}/{srv.name}"
    cmds = [f"add server {ref} {' '.join([srv.address, *srv.options, 'weight', str(srv.weight)])}"]
    if not srv.disabled:
        cmds.append(f"enable server {ref}")
    if "check" in srv.options:
        cmds.append(f"enable health {ref}")
    return RuntimeOp(f"add {ref}", tuple(cmds), "add", srv)


def _del_ops(srv: ServerLine) -> RuntimeOp:
    ref = f"{srv.proxy}/{srv.name}"
    # No "shutdown sessions": requests in flight finish on the leaving server (run_ops leaves
    # it in maintenance as a tombstone if "del server" keeps refusing).
    cmds = (f"set server {ref} state maint", f"del server {ref}")
    return RuntimeOp(f"remove {ref}", cmds, "remove", srv)


def _readd_ops(tomb: ServerLine, srv: ServerLine) -> RuntimeOp:
    """``srv`` comes back while the server it replaces is still a tombstone in the worker."""
    ref = f"{srv.proxy}/{srv.name}"
    hp = srv.address.rpartition(":")
    if tomb.options == srv.options and hp[0] and hp[2].isdigit():
        cmds = [
            f"set server {ref} addr {hp[0].strip('[]')} port {hp[2]}",
            f"set server {ref} weight {srv.weight}",
        ]
        if not srv.disabled:
            cmds.append(f"set server {ref} state ready")
        return RuntimeOp(f"revive {ref}", tuple(cmds), "revive", srv)
    # Other options: the tombstone must go first (refused while it serves -> reload).
    added = _add_ops(srv)
    return RuntimeOp(f"replace {ref}", (f"del server {ref}", *added.commands), "replace", srv)


def _change_ops(old: ServerLine, new: ServerLine) -> RuntimeOp | None:
    ref = f"{new.proxy}/{new.name}"
    cmds: list[str] = []
    if old.address != new.address:
        host, _, port = new.address.rpartition(":")
        if not host or not port.isdigit():
            return None
        cmds.append(f"set server {ref} addr {host.strip('[]')} port {port}")
    if old.weight != new.weight:
        cmds.append(f"set server {ref} weight {new.weight}")
    if old.disabled != new.disabled:
        cmds.append(f"set server {ref} state {'maint' if new.disabled else 'ready'}")
    return RuntimeOp(f"update {ref}", tuple(cmds), "update", new)


def server_delta(
    old: ParsedConfig,
    new: ParsedConfig,
    tombstones: Mapping[tuple[str, str], ServerLine] | None = None,
) -> list[RuntimeOp] | None:
    """Runtime-API ops turning ``old`` into ``new``, or None when a reload is required.

    Runtime-capable: servers added or removed, weight, disabled/enabled, address/port.
    Anything else (other server options such as ``backup``, ``check`` parameters, any
    non-server line) needs a reload. Servers are not added at runtime to proxies that
    use ``default-server``, because dynamic servers do not inherit it in HAProxy 2.6.
    ``tombstones`` are removed servers still in the worker (maintenance): one added again
    is revived in place when its other options are unchanged.
    """
    tombs = tombstones or {}
    if old.skeleton != new.skeleton:
        return None
    ops: list[RuntimeOp] = []
    for key, srv in old.servers.items():
        if key not in new.servers:
            ops.append(_del_ops(srv))
    for key, srv in new.servers.items():
        before = old.servers.get(key)
        if before is None and key in tombs:
            ops.append(_readd_ops(tombs[key], srv))
            continue
        if before is None:
            if {"*", srv.proxy} & new.proxies_with_default_server:
                return None
            ops.append(_add_ops(srv))
            continue
        if before.options != srv.options:
            return None
        if before != srv:
            change = _change_ops(before, srv)
            if change is None:
                return None
            ops.append(change)
    return ops
