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


def run_ops(send: Send, ops: Sequence[RuntimeOp], del_wait: float = 2.0) -> list[str]:
    """Run ``ops`` in order; return the commands executed. Raise AgentError on the first failure.

    ``del server`` refuses while the server still holds connections, so it is retried for
    up to ``del_wait`` seconds after ``shutdown sessions``.
    """
    done: list[str] = []
    for op in ops:
        for command in op.commands:
            answer = send(command)
            if command.startswith("del server"):
                deadline = time.monotonic() + del_wait
                while not answer_ok(command, answer) and time.monotonic() < deadline:
                    time.sleep(0.05)
                    answer = send(command)
            if not answer_ok(command, answer):
                raise AgentError(f"{op.description}: {command!r} -> {answer.strip()!r}")
            done.append(command)
    return done
