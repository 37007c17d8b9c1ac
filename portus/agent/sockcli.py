"""Talk to HAProxy's master CLI / runtime API over a UNIX socket.

HAProxy answers one command per connection and closes; while the master re-executes during a
reload the socket briefly refuses connections, so sends retry within a bounded deadline.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

from portus.agent.errors import AgentError


def send(
    path: Path,
    command: str,
    *,
    timeout: float = 5.0,
    retry_for: float = 3.0,
    retry_empty: bool = True,
) -> str:
    """Send one command line and return the answer.

    Refused connections are retried until ``retry_for``; empty answers too unless
    ``retry_empty`` is False (``reload`` answers nothing in 2.6 and must not be resent).
    """
    deadline = time.monotonic() + retry_for
    while True:
        try:
            answer = _send_once(path, command, timeout)
        except (ConnectionRefusedError, FileNotFoundError, ConnectionResetError) as exc:
            if time.monotonic() >= deadline:
                raise AgentError(f"{path}: {exc}") from exc
            time.sleep(0.005)  # a starting master opens its socket within milliseconds
            continue
        except OSError as exc:
            raise AgentError(f"{path}: {exc}") from exc
        if answer or not retry_empty or time.monotonic() >= deadline:
            return answer
        time.sleep(0.02)


def _send_once(path: Path, command: str, timeout: float) -> str:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        sock.sendall(command.encode() + b"\n")
        sock.shutdown(socket.SHUT_WR)  # the master CLI answers only once the request ends
        chunks: list[bytes] = []
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks).decode(errors="replace")
