"""Fixtures shared by the whole suite: a real Portus (API + controller) on a free port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.portus_app import Portus, make_settings

pytest_plugins = ["dataplane_support"]


@pytest.fixture
def portus(tmp_path: Path) -> Iterator[Portus]:
    """A fresh noop Portus per test (SQLite in tmp, or PORTUS_TEST_DATABASE_URL)."""
    p = Portus(make_settings(tmp_path)).start()
    try:
        yield p
    finally:
        p.stop()


@pytest.fixture(scope="module")
def portus_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portus]:
    """One noop Portus shared by a test module (faster for read-mostly tests)."""
    p = Portus(make_settings(tmp_path_factory.mktemp("portus"))).start()
    try:
        yield p
    finally:
        p.stop()
