"""Post-apply checks: is HAProxy really serving what the config says?"""

from __future__ import annotations

import socket
from collections.abc import Sequence

from portus.agent import haproxy
from portus.agent.cmd import run
from portus.agent.errors import AgentError
from portus.agent.netns import call_in_netns


def _connect_all(binds: Sequence[tuple[str, int]], timeout: float) -> list[str]:
    failures: list[str] = []
    for host, port in binds:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            try:
                sock.connect((host, port))
            except OSError as exc:
                failures.append(f"{host}:{port}: {exc}")
    return failures


def local_addresses(netns: str) -> set[str]:
    # ``ip -n`` enters only the network namespace (``ip netns exec`` also remounts /sys).
    out = run(["ip", "-n", netns, "-o", "addr", "show"], check=False).stdout
    return {tok.split("/")[0] for line in out.splitlines() for tok in line.split()[3:4]}


def check_binds(netns: str, binds: Sequence[tuple[str, int]], timeout: float = 1.0) -> str | None:
    """TCP-connect to every bind from inside the amphora; an error text, or None if all answer.

    A bind on an address the amphora does not hold (the VIP on an ACTIVE_STANDBY backup,
    bound through ``ip_nonlocal_bind``) cannot be reached from inside and is skipped.
    """
    if binds:
        local = local_addresses(netns)
        binds = [b for b in binds if b[0].strip("[]") in local]
    if not binds:
        return None
    failures = call_in_netns(netns, lambda: _connect_all(binds, timeout))
    return "; ".join(failures) if failures else None


def check_haproxy(
    files: haproxy.HaproxyFiles, netns: str, binds: Sequence[tuple[str, int]]
) -> str | None:
    """Master has a worker, the worker answers ``show info``, every bind accepts."""
    try:
        table = haproxy.show_proc(files)
        if not table.workers:
            return "haproxy has no worker"
        info = haproxy.runtime(files, "show info")
        if "Name: HAProxy" not in info:
            return f"worker does not answer 'show info': {info[:200]!r}"
    except AgentError as exc:
        return str(exc)
    return check_binds(netns, binds)
