"""The throw-away PostgreSQL cluster really serves SQL and really disappears afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.support.postgres import (
    PostgresUnavailable,
    find_bindir,
    running_postgres,
    start_postgres,
)

try:
    find_bindir()
except PostgresUnavailable as exc:  # pragma: no cover - depends on the machine
    pytest.skip(str(exc), allow_module_level=True)

pytestmark = pytest.mark.postgres


def _alive(pid: int) -> bool:
    """Whether `pid` still runs; a zombie waiting for its (re)parent to reap it has exited."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def test_start_connect_select_and_stop(tmp_path: Path) -> None:
    url, stop = start_postgres(tmp_path)
    try:
        assert url.startswith("postgresql+psycopg://portus:")
        assert "@127.0.0.1:" in url
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT 1")).scalar_one() == 1
            version = conn.execute(sa.text("SHOW server_version_num")).scalar_one()
            assert int(version) >= 150000
            assert conn.execute(sa.text("SELECT current_database()")).scalar_one() == "portus"
        engine.dispose()
    finally:
        stop()
    # After stop nothing answers any more and the server log was kept for debugging.
    engine = sa.create_engine(url, connect_args={"connect_timeout": 2})
    with pytest.raises(sa.exc.OperationalError), engine.connect():
        pass
    engine.dispose()
    assert (tmp_path / "postgres.log").exists()


def test_cluster_files_are_removed_and_stop_is_idempotent(tmp_path: Path) -> None:
    with running_postgres(tmp_path) as cluster:
        base = cluster.base_dir
        assert (cluster.data_dir / "postmaster.pid").exists()
    assert not base.exists()
    cluster.stop()  # second stop is a no-op


def test_cluster_stops_when_the_block_raises(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="boom"), running_postgres(tmp_path) as cluster:
        pid = int((cluster.data_dir / "postmaster.pid").read_text().splitlines()[0])
        raise RuntimeError("boom")
    assert not _alive(pid)
    assert not cluster.base_dir.exists()


def test_extra_databases_are_isolated_and_only_loopback_listens(tmp_path: Path) -> None:
    with running_postgres(tmp_path) as cluster:
        url_a = cluster.create_database("alpha")
        url_b = cluster.create_database("beta")
        engine_a, engine_b = sa.create_engine(url_a), sa.create_engine(url_b)
        with engine_a.begin() as conn:
            conn.execute(sa.text("CREATE TABLE t (x int)"))
            assert conn.execute(sa.text("SHOW listen_addresses")).scalar_one() == "127.0.0.1"
        with engine_b.connect() as conn:
            found = conn.execute(sa.text("SELECT to_regclass('public.t')")).scalar_one()
            assert found is None
        engine_a.dispose()
        engine_b.dispose()
        cluster.drop_database("alpha")
        with pytest.raises(ValueError):
            cluster.create_database("bad; DROP")
