"""Execute member changes through HAProxy's runtime API (no reload)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from portus.agent.cfgdiff import RuntimeOp
from portus.agent.errors import AgentError

Send = Callable[[str], str]


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


def run_ops(
    send: Send, ops: Sequence[RuntimeOp], drain_wait: float = 6.0, kill_wait: float = 2.0
) -> list[str]:
    """Run ``ops`` in order; return the commands executed. Raise AgentError on the first failure.

    ``del server`` refuses while the (already maintenance-mode) server still has requests in
    flight or idle pooled connections. Those finish, or are purged (``pool-purge-delay``), on
    their own, so it is retried for up to ``drain_wait`` seconds before the remaining sessions
    are cut with ``shutdown sessions`` and it is tried ``kill_wait`` seconds more: a member is
    removed without failing the requests it is serving whenever they end in time.
    """
    done: list[str] = []
    for op in ops:
        for command in op.commands:
            answer = send(command)
            if command.startswith("del server"):
                answer = _retry(send, command, answer, drain_wait)
                if not answer_ok(command, answer):
                    ref = command.removeprefix("del server ").strip()
                    done.append(f"shutdown sessions server {ref}")
                    send(f"shutdown sessions server {ref}")
                    answer = _retry(send, command, send(command), kill_wait)
            if not answer_ok(command, answer):
                raise AgentError(f"{op.description}: {command!r} -> {answer.strip()!r}")
            done.append(command)
    return done


def _retry(send: Send, command: str, answer: str, seconds: float) -> str:
    deadline = time.monotonic() + seconds
    while not answer_ok(command, answer) and time.monotonic() < deadline:
        time.sleep(0.05)
        answer = send(command)
    return answer
