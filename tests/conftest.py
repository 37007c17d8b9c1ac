"""Fixtures shared by the whole suite: a real Portus (API + controller) on a free port.

``portus`` and ``portus_module`` run every test that uses them twice: on SQLite (the embedded
default) and on PostgreSQL (a throw-away cluster this session starts, one fresh database per
Portus). ``PORTUS_TEST_DATABASES=sqlite`` narrows that to one backend.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.portus_app import BACKENDS, Portus, make_settings
from tests.support.postgres import PostgresCluster, PostgresUnavailable, start_postgres_cluster

pytest_plugins = ["dataplane_support"]

_db_numbers = itertools.count()


@pytest.fixture(scope="session")
def postgres_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresCluster]:
    try:
        cluster = start_postgres_cluster(tmp_path_factory.mktemp("postgres"))
    except PostgresUnavailable as exc:
        pytest.skip(f"PostgreSQL is not installed: {exc}")
    try:
        yield cluster
    finally:
        cluster.stop()


def _database_url(request: pytest.FixtureRequest) -> str | None:
    if request.param == "sqlite":
        return None
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    return cluster.create_database(f"portus_{os.getpid()}_{next(_db_numbers)}")


@pytest.fixture(params=BACKENDS)
def portus(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Portus]:
    """A fresh noop Portus per test."""
    p = Portus(make_settings(tmp_path, database_url=_database_url(request))).start()
    try:
        yield p
    finally:
        p.stop()


@pytest.fixture(scope="module", params=BACKENDS)
def portus_module(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Portus]:
    """One noop Portus shared by a test module (faster for read-mostly tests)."""
    url = _database_url(request)
    p = Portus(make_settings(tmp_path_factory.mktemp("portus"), database_url=url)).start()
    try:
        yield p
    finally:
        p.stop()
