"""A throw-away PostgreSQL cluster for tests that need the production database.

Debian's PostgreSQL 15 binaries build a private cluster in a fresh temporary directory:
listening only on 127.0.0.1 at a free port, its unix socket inside that directory, durability
switched off (tests never need crash safety, and fsync makes them slow). initdb refuses to
run as root, so when the tests run as root the server runs as the `postgres` system user
(or PORTUS_PG_USER); its data directory then lives in the system temp dir, because pytest's
tmp_path is private to root. The cluster is stopped and removed on exit, even on failure.
"""

from __future__ import annotations

import atexit
import contextlib
import getpass
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from tests.support.ports import free_port

SUPERUSER = "portus"
DEFAULT_DB = "portus"
START_TIMEOUT = 30.0
_DB_NAME_OK = set("abcdefghijklmnopqrstuvwxyz0123456789_")


class PostgresUnavailable(RuntimeError):
    """PostgreSQL server binaries are not installed (run ./dev install)."""


def find_bindir() -> Path:
    """Directory with initdb and pg_ctl: PORTUS_PG_BINDIR, else Debian's newest version."""
    env = os.environ.get("PORTUS_PG_BINDIR")
    candidates = [Path(env)] if env else []
    root = Path("/usr/lib/postgresql")
    if root.is_dir():
        versions = sorted(
            (p for p in root.iterdir() if p.name.isdigit()), key=lambda p: int(p.name)
        )
        candidates += [v / "bin" for v in reversed(versions)]
    for bindir in candidates:
        if (bindir / "initdb").exists() and (bindir / "pg_ctl").exists():
            return bindir
    raise PostgresUnavailable(
        "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin; run ./dev install"
    )


def _server_user() -> str:
    """The OS user the server runs as: never root, which initdb and postgres refuse."""
    if os.geteuid() != 0:
        return getpass.getuser()
    return os.environ.get("PORTUS_PG_USER", "postgres")


def sqlalchemy_url(user: str, password: str, port: int, database: str) -> str:
    """A SQLAlchemy URL for psycopg 3 over TCP to the loopback address."""
    return (
        f"postgresql+psycopg://{quote(user)}:{quote(password, safe='')}@127.0.0.1:{port}/{database}"
    )


@dataclass
class PostgresCluster:
    """A running private cluster; `stop()` is idempotent and also runs at interpreter exit."""

    bindir: Path
    base_dir: Path
    port: int
    password: str
    run_as: str
    log_copy: Path | None
    url: str = ""
    _stopped: bool = field(default=False, repr=False)

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def socket_dir(self) -> Path:
        return self.base_dir

    @property
    def log_file(self) -> Path:
        return self.base_dir / "postgresql.log"

    def url_for(self, database: str) -> str:
        """SQLAlchemy URL of another database in this cluster (see `create_database`)."""
        return sqlalchemy_url(SUPERUSER, self.password, self.port, database)

    def create_database(self, name: str) -> str:
        """Create an empty database and return its SQLAlchemy URL.

        A fresh database per test module is cheaper than a fresh cluster.
        """
        if not name or not set(name) <= _DB_NAME_OK or name[0].isdigit():
            raise ValueError(f"database name must be lower-case [a-z0-9_]: {name!r}")
        self._psql(f"CREATE DATABASE {name}")
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        """Drop a database, disconnecting whoever still uses it."""
        if not set(name) <= _DB_NAME_OK:
            raise ValueError(f"bad database name: {name!r}")
        self._psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def _psql(self, sql: str) -> None:
        _run(
            [
                str(self.bindir / "psql"),
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                str(self.socket_dir),
                "-p",
                str(self.port),
                "-U",
                SUPERUSER,
                "-d",
                "postgres",
                "-c",
                sql,
            ],
            self.run_as,
        )

    def stop(self) -> None:
        """Stop the server (fast, no checkpoint) and delete every file of the cluster."""
        if self._stopped:
            return
        self._stopped = True
        atexit.unregister(self.stop)
        try:
            pid = self.postmaster_pid()
            if pid is not None:
                with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
                    _run(
                        [
                            str(self.bindir / "pg_ctl"),
                            "stop",
                            "-D",
                            str(self.data_dir),
                            "-m",
                            "immediate",
                            "-w",
                            "-t",
                            "15",
                        ],
                        self.run_as,
                    )
                # pg_ctl returns when the pid file is gone, a moment before the process is.
                if not _wait_gone(pid, 5.0):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                    _wait_gone(pid, 5.0)
            if self.log_copy is not None and self.log_file.exists():
                with contextlib.suppress(OSError):
                    shutil.copyfile(self.log_file, self.log_copy)
        finally:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def postmaster_pid(self) -> int | None:
        """PID of the running postmaster, from the pid file it writes; None when not running."""
        try:
            return int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None


def _wait_gone(pid: int, timeout: float) -> bool:
    """Whether process `pid` has exited (or is a zombie) within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return True
        if state in ("Z", "X"):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


def _run(argv: list[str], run_as: str, timeout: float = 60.0) -> str:
    """Run a PostgreSQL tool as the server's user; raise with its output on failure."""
    user: int | None = None
    group: int | None = None
    extra_groups: list[int] | None = None
    if os.geteuid() == 0 and run_as != "root":
        entry = pwd.getpwnam(run_as)
        user, group, extra_groups = entry.pw_uid, entry.pw_gid, []
    env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
    proc = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd="/",
        stdin=subprocess.DEVNULL,
        check=False,
        user=user,
        group=group,
        extra_groups=extra_groups,
    )
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(
            proc.returncode, argv, output=proc.stdout, stderr=proc.stderr
        )
    return proc.stdout


def _make_base_dir(run_as: str) -> Path:
    base = Path(tempfile.mkdtemp(prefix="portus-pg-"))
    if os.geteuid() == 0 and run_as != "root":
        entry = pwd.getpwnam(run_as)
        os.chown(base, entry.pw_uid, entry.pw_gid)
    base.chmod(0o700)
    return base


def _init_cluster(cluster: PostgresCluster) -> None:
    pwfile = cluster.base_dir / "pwfile"
    pwfile.write_text(cluster.password + "\n")
    if os.geteuid() == 0 and cluster.run_as != "root":
        entry = pwd.getpwnam(cluster.run_as)
        os.chown(pwfile, entry.pw_uid, entry.pw_gid)
    pwfile.chmod(0o600)
    try:
        _run(
            [
                str(cluster.bindir / "initdb"),
                "-D",
                str(cluster.data_dir),
                "-U",
                SUPERUSER,
                f"--pwfile={pwfile}",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ],
            cluster.run_as,
        )
    finally:
        pwfile.unlink(missing_ok=True)


def _start_server(cluster: PostgresCluster) -> None:
    options = " ".join(
        [
            "-c listen_addresses=127.0.0.1",
            f"-p {cluster.port}",
            f"-c unix_socket_directories={cluster.socket_dir}",
            "-c cluster_name=portus-test",
            "-c fsync=off",
            "-c synchronous_commit=off",
            "-c full_page_writes=off",
            "-c max_connections=100",
            "-c shared_buffers=64MB",
        ]
    )
    _run(
        [
            str(cluster.bindir / "pg_ctl"),
            "start",
            "-D",
            str(cluster.data_dir),
            "-l",
            str(cluster.log_file),
            "-o",
            options,
            "-w",
            "-t",
            str(int(START_TIMEOUT)),
        ],
        cluster.run_as,
        timeout=START_TIMEOUT + 10,
    )


def start_postgres_cluster(tmpdir: Path | str | None = None) -> PostgresCluster:
    """Start a private cluster with database `portus`; the caller must call `.stop()`.

    `tmpdir`, if given, receives a copy of the server log (postgres.log) when it stops.
    """
    bindir = find_bindir()
    run_as = _server_user()
    base = _make_base_dir(run_as)
    log_copy = Path(tmpdir) / "postgres.log" if tmpdir is not None else None
    cluster = PostgresCluster(
        bindir=bindir,
        base_dir=base,
        port=0,
        password=secrets.token_urlsafe(16),
        run_as=run_as,
        log_copy=log_copy,
    )
    atexit.register(cluster.stop)
    try:
        _init_cluster(cluster)
        # The port is free when picked but may be taken before postgres binds it: retry.
        for attempt in range(3):
            cluster.port = free_port()
            try:
                _start_server(cluster)
                break
            except subprocess.CalledProcessError:
                if attempt == 2:
                    raise
        cluster.create_database(DEFAULT_DB)
        cluster.url = cluster.url_for(DEFAULT_DB)
    except subprocess.CalledProcessError as exc:
        log = cluster.log_file.read_text() if cluster.log_file.exists() else ""
        cluster.stop()
        raise RuntimeError(
            f"PostgreSQL failed: {exc.cmd[0]} exited {exc.returncode}\n"
            f"{exc.stdout}{exc.stderr}\n{log[-4000:]}"
        ) from exc
    except BaseException:
        cluster.stop()
        raise
    return cluster


def start_postgres(tmpdir: Path | str | None = None) -> tuple[str, Callable[[], None]]:
    """Start a private cluster; return its SQLAlchemy URL and the function that removes it."""
    cluster = start_postgres_cluster(tmpdir)
    return cluster.url, cluster.stop


@contextlib.contextmanager
def running_postgres(tmpdir: Path | str | None = None) -> Iterator[PostgresCluster]:
    """Context manager form: the cluster is stopped and deleted when the block exits."""
    cluster = start_postgres_cluster(tmpdir)
    try:
        yield cluster
    finally:
        cluster.stop()
