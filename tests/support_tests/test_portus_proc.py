"""PortusProcess starts, reports, kills and restarts a server process as tests need.

The mechanics are checked against a tiny stand-in server (deterministic, no Portus code
involved); one test runs the real `portus up`.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.paths import venv_bin
from tests.support.portus_proc import PortusProcess, PortusStartError

STUB = """\
#!{python}
import http.server, os, signal, sys
host, port = os.environ["PORTUS_BIND"].rsplit(":", 1)
mode = sys.argv[1] if len(sys.argv) > 1 else "serve"
if mode == "crash":
    print("boom: broken configuration", flush=True)
    sys.exit(3)
if mode == "ignore-term":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("serving state", os.environ["PORTUS_STATE_DIR"], flush=True)
http.server.HTTPServer((host, int(port)), http.server.SimpleHTTPRequestHandler).serve_forever()
"""


@pytest.fixture
def stub(tmp_path: Path) -> Path:
    path = tmp_path / "fake-portus"
    path.write_text(STUB.format(python=sys.executable))
    path.chmod(0o755)
    return path


def test_start_serves_on_its_url_and_stop_ends_it(stub: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    with PortusProcess(["serve"], state_dir=state, executable=stub) as proc:
        assert proc.url.startswith("http://127.0.0.1:")
        assert httpx.get(proc.url + "/").status_code == 200
        pid = proc.pid
        assert proc.running()
    assert not proc.running()
    assert proc.returncode is not None
    assert pid > 0
    assert f"serving state {state}" in proc.log_text()
    with pytest.raises(httpx.ConnectError):
        httpx.get(proc.url + "/", timeout=1)


def test_a_crash_at_start_is_reported_with_the_log(stub: Path, tmp_path: Path) -> None:
    with pytest.raises(PortusStartError, match="broken configuration") as err:
        PortusProcess(["crash"], state_dir=tmp_path, executable=stub)
    assert "exit 3" in str(err.value)


def test_kill_then_restart_on_the_same_port_keeps_one_log(stub: Path, tmp_path: Path) -> None:
    proc = PortusProcess(["serve"], state_dir=tmp_path, executable=stub)
    try:
        first_pid, port = proc.pid, proc.port
        assert proc.kill(signal.SIGKILL) == -signal.SIGKILL
        assert not proc.running()
        proc.start()
        assert proc.pid != first_pid and proc.port == port
        assert httpx.get(proc.url + "/").status_code == 200
    finally:
        proc.stop()
    assert proc.log_text().count("--- portus start:") == 2


def test_stop_escalates_to_sigkill(stub: Path, tmp_path: Path) -> None:
    proc = PortusProcess(["ignore-term"], state_dir=tmp_path, executable=stub)
    assert proc.stop(timeout=1) == -signal.SIGKILL


def test_env_reaches_the_process_and_is_not_leaked_into_ours(stub: Path, tmp_path: Path) -> None:
    with PortusProcess(["serve"], env={"PORTUS_X": "1"}, state_dir=tmp_path, executable=stub) as p:
        environ = Path(f"/proc/{p.pid}/environ").read_bytes().split(b"\0")
    assert b"PORTUS_X=1" in environ
    assert f"PORTUS_BIND={p.bind}".encode() in environ


@pytest.mark.skipif(not venv_bin("portus").exists(), reason="portus is not installed")
def test_real_portus_up_answers(tmp_path: Path) -> None:
    with PortusProcess(["up", "--provider", "noop"], state_dir=tmp_path) as proc:
        resp = httpx.get(proc.url + "/")
        assert resp.status_code < 500
    assert (tmp_path / "portus.log").exists()
