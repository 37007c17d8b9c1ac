"""Housekeeping: expired soft-deleted rows are purged (fresh ones kept), and the agent's
certificate is re-issued before it expires, with the same name and addresses."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select

from portus.agent import pki
from portus.db.engine import Database
from portus.db.migrate import upgrade
from portus.db.models import Amphora, ListenerStats, LoadBalancer
from portus.housekeeping.certs import expires_at, rotate_agent_cert, sans_of
from portus.housekeeping.service import Housekeeper, HousekeepingOptions

NOW = dt.datetime(2030, 1, 10, 12, 0, 0)


def test_purge_removes_only_expired_deleted_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    upgrade(url)
    db = Database(url)
    try:
        with db.session() as s:
            old = LoadBalancer(
                project_id="p", provisioning_status="DELETED", deleted_at=NOW - dt.timedelta(days=8)
            )
            recent = LoadBalancer(
                project_id="p", provisioning_status="DELETED", deleted_at=NOW - dt.timedelta(days=1)
            )
            live = LoadBalancer(project_id="p", provisioning_status="ACTIVE")
            s.add_all([old, recent, live])
            s.flush()
            s.add_all(
                [
                    Amphora(
                        load_balancer_id=old.id,
                        status="DELETED",
                        updated_at=NOW - dt.timedelta(days=9),
                    ),
                    Amphora(load_balancer_id=live.id, status="ALLOCATED"),
                    ListenerStats(listener_id="l", amphora_id="a", load_balancer_id=old.id),
                ]
            )
            ids = {"old": old.id, "recent": recent.id, "live": live.id}
        keeper = Housekeeper(db, HousekeepingOptions(expiry=7 * 24 * 3600))
        out = keeper.run_once(NOW)
        assert out["purged_load_balancers"] == 1 and out["purged_amphorae"] == 1
        with db.read() as s:
            left = set(s.scalars(select(LoadBalancer.id)))
            assert left == {ids["recent"], ids["live"]}
            assert [a.status for a in s.scalars(select(Amphora))] == ["ALLOCATED"]
            assert s.scalars(select(ListenerStats)).all() == []
        assert keeper.run_once(NOW)["purged_load_balancers"] == 0
    finally:
        db.dispose()


def test_agent_certificate_is_rotated_before_expiry(tmp_path: Path) -> None:
    paths = pki.ensure_pki(tmp_path / "pki", ("127.0.0.1", "localhost"))
    before = paths.server_cert.read_bytes()
    now = dt.datetime.now(dt.UTC)
    # A year left: nothing to do with a 14-day buffer.
    assert not rotate_agent_cert(paths, now, 14 * 24 * 3600)
    assert paths.server_cert.read_bytes() == before
    # Ten days before expiry: re-issued, same name and SANs, valid for longer.
    late = expires_at(before) - dt.timedelta(days=10)
    assert rotate_agent_cert(paths, late, 14 * 24 * 3600)
    after = paths.server_cert.read_bytes()
    assert after != before
    assert pki.common_name(after) == pki.common_name(before)
    assert sans_of(after) == sans_of(before) == ("127.0.0.1", "localhost")
    assert expires_at(after) > expires_at(before) - dt.timedelta(days=1)
