"""The VIP guard: a watched process's exit triggers the hand-over at once; a cancelled
watch never does."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from portus.agent.vipguard import VipGuard, sigterm

SLEEP = [sys.executable, "-c", "import time; time.sleep(30)"]


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for p in started:
        p.kill()
        p.wait(5)


def test_exit_of_the_watched_process_fires_the_hand_over(
    procs: list[subprocess.Popen[bytes]],
) -> None:
    haproxy, keepalived = subprocess.Popen(SLEEP), subprocess.Popen(SLEEP)
    procs += [haproxy, keepalived]
    guard = VipGuard()
    guard.watch("amp", haproxy.pid, sigterm(keepalived.pid))
    haproxy.kill()
    assert keepalived.wait(5) == -15  # SIGTERM, so keepalived sends its priority-0 advert


def test_unwatch_before_a_planned_stop_keeps_keepalived(
    procs: list[subprocess.Popen[bytes]],
) -> None:
    haproxy = subprocess.Popen(SLEEP)
    procs.append(haproxy)
    fired = threading.Event()
    guard = VipGuard()
    guard.watch("amp", haproxy.pid, fired.set)
    guard.unwatch("amp")
    haproxy.kill()
    haproxy.wait(5)
    assert not fired.wait(0.3)


def test_an_already_dead_process_fires_at_once() -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(5)
    fired = threading.Event()
    VipGuard().watch("amp", gone.pid, fired.set)
    assert fired.is_set()
