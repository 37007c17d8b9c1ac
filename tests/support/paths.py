"""Where the repository and its virtual environments are, found from this file."""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def venv_bin(name: str) -> Path:
    """Path of a console script installed beside the running interpreter (the project's .venv).

    Tests run under .venv/bin/python, so its scripts (portus, openstack) sit next to it; fall
    back to the repository's .venv when the interpreter lives elsewhere.
    """
    here = Path(sys.executable).parent / name
    if here.exists():
        return here
    return REPO_ROOT / ".venv" / "bin" / name


def keystone_venv() -> Path:
    """The separate virtualenv that `./dev install` fills with OpenStack Keystone."""
    return Path(os.environ.get("PORTUS_KEYSTONE_VENV", REPO_ROOT / ".venv-keystone"))
