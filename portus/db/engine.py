"""Engines and sessions for SQLite (embedded default, WAL) and PostgreSQL."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    # Take the write lock at BEGIN so read-then-write transactions never deadlock on upgrade.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_begin_deferred(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN")


def make_engine(url: str, immediate: bool = True) -> Engine:
    """``immediate``: SQLite write transactions take the write lock at BEGIN (no upgrade
    deadlocks); read-only engines use a plain BEGIN so readers never queue behind writers."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=20,
            max_overflow=20,
        )
        event.listen(engine, "connect", _sqlite_pragmas)

        @event.listens_for(engine, "connect")
        def _no_pysqlite_begin(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None

        event.listen(engine, "begin", _sqlite_begin if immediate else _sqlite_begin_deferred)
        return engine
    return create_engine(url, pool_size=20, max_overflow=20, pool_pre_ping=True)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


class Database:
    """One engine and its session factory; passed explicitly, never global."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._factory = sessionmaker(self.engine, expire_on_commit=False)
        if is_sqlite(self.engine):
            self.read_engine = make_engine(url, immediate=False)
        else:
            self.read_engine = self.engine
        self._read_factory = sessionmaker(self.read_engine, expire_on_commit=False)
        self._probe: sqlite3.Connection | None = None
        self._probe_lock = threading.Lock()
        if is_sqlite(self.engine) and self.engine.url.database not in (None, "", ":memory:"):
            self._probe = sqlite3.connect(
                self.engine.url.database, check_same_thread=False, isolation_level=None
            )

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A write transaction: commits on success, rolls back on any exception."""
        with self._factory() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only transaction (a consistent snapshot); never blocks or is blocked by writers
        on SQLite WAL."""
        with self._read_factory() as session:
            yield session

    def revision(self) -> int | None:
        """A number that changes whenever anyone commits to the database, or None where there
        is no cheap way to know (PostgreSQL). On SQLite it is ``PRAGMA data_version`` of a
        connection of our own that never writes: the pragma moves on every commit made by any
        other connection, in this process or another."""
        if self._probe is None:
            return None
        with self._probe_lock:
            row = self._probe.execute("PRAGMA data_version").fetchone()
        return int(row[0])

    def dispose(self) -> None:
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()
        if self._probe is not None:
            self._probe.close()
            self._probe = None
