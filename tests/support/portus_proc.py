"""A real `portus` process for end-to-end tests: start it, wait until it serves, kill it.

The process gets its listen address and state directory through PORTUS_BIND and
PORTUS_STATE_DIR, which every subcommand reads, so `args` is just the subcommand and its
options (["up", "--provider", "noop"], ["api"], ["controller"], ...). Output goes to
`portus.log` in the state directory, appended across restarts, so a test that crashes and
restarts Portus keeps one log of the whole story.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

import httpx

from tests.support.paths import venv_bin
from tests.support.ports import free_port

READY_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


class PortusStartError(RuntimeError):
    """Portus exited or did not answer in time; the message carries its log's tail."""


class PortusProcess:
    """One `portus` subprocess on 127.0.0.1 at a free port (kept across restarts).

    Starts at construction unless `start=False`; use as a context manager or call `stop()`.
    `wait_http=False` is for subcommands that serve no HTTP (e.g. `controller`): start then
    only checks that the process did not exit at once.
    """

    def __init__(
        self,
        args: Sequence[str],
        env: Mapping[str, str] | None = None,
        state_dir: Path | str | None = None,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        ready_timeout: float = READY_TIMEOUT,
        wait_http: bool = True,
        start: bool = True,
        executable: Path | str | None = None,
    ) -> None:
        if state_dir is None:
            raise ValueError("state_dir is required: Portus keeps its database and log there")
        self.args = list(args)
        self.extra_env = dict(env or {})
        self.state_dir = Path(state_dir)
        self.host = host
        self.port = port if port is not None else free_port(host)
        self.ready_timeout = ready_timeout
        self.wait_http = wait_http
        self.executable = Path(executable) if executable is not None else venv_bin("portus")
        self._proc: subprocess.Popen[bytes] | None = None
        if start:
            self.start()

    # --- facts ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:40123 (no trailing slash)."""
        return f"http://{self.host}:{self.port}"

    @property
    def bind(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "portus.log"

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise RuntimeError("portus is not started")
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        """Exit status once it has exited (negative: killed by that signal), else None."""
        return None if self._proc is None else self._proc.poll()

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log_text(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    # --- life cycle -----------------------------------------------------------------------

    def command(self) -> list[str]:
        return [str(self.executable), *self.args]

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "PORTUS_BIND": self.bind,
                "PORTUS_STATE_DIR": str(self.state_dir),
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.extra_env)
        return env

    def start(self) -> PortusProcess:
        """Start (or restart after stop/kill) and wait until it is ready."""
        if self.running():
            raise RuntimeError(f"portus already running as pid {self.pid}")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            log.write(f"--- portus start: {' '.join(self.command())}\n".encode())
            log.flush()
            # A session of its own: a Ctrl-C meant for pytest does not hit Portus twice.
            self._proc = subprocess.Popen(
                self.command(),
                env=self.environment(),
                cwd=self.state_dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        if not self.wait_http:
            # Nothing to poll: only make sure it survives its first half second.
            time.sleep(min(0.5, self.ready_timeout))
            if not self.running():
                raise self._start_error("exited during start-up")
            return
        while time.monotonic() < deadline:
            if not self.running():
                raise self._start_error("exited during start-up")
            with contextlib.suppress(httpx.TransportError):
                httpx.get(f"{self.url}/", timeout=2.0)
                return  # any HTTP answer means the server is up
            time.sleep(0.05)
        raise self._start_error(f"did not answer GET / within {self.ready_timeout:g}s")

    def _start_error(self, what: str) -> PortusStartError:
        tail = self.log_text()[-4000:]
        return PortusStartError(
            f"portus {' '.join(self.args)} {what} (exit {self.returncode}); log:\n{tail}"
        )

    def kill(self, sig: int = signal.SIGKILL, *, wait: bool = True) -> int | None:
        """Send `sig` to the portus process only (not its children, which a crash leaves
        behind, as a real crash would); by default wait for it to exit and return its status.
        """
        if self._proc is None or self._proc.poll() is not None:
            return self.returncode
        self._proc.send_signal(sig)
        if wait:
            return self._proc.wait(timeout=STOP_TIMEOUT)
        return None

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM and wait; SIGKILL by PID if it does not exit in `timeout` seconds."""
        if self._proc is None:
            return None
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=timeout)
        return self._proc.returncode

    def restart(self) -> PortusProcess:
        self.stop()
        return self.start()

    def __enter__(self) -> PortusProcess:
        if not self.running():
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"pid {self._proc.pid}" if self.running() and self._proc else "stopped"
        return f"PortusProcess({self.args!r}, url={self.url!r}, {state})"
