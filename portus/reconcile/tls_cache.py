"""The last certificate files each LB's amphorae were given, kept so that a store outage does
not block a failover or a rebuild.

One Fernet-encrypted file per LB under ``<state_dir>/tls-cache/``, written when the set of files
changes. A cached entry is used only when it was fetched for the very same ref (and CA ref):
a changed ref still needs the store. The cache is per controller host: a controller that never
reconciled the LB has nothing to fall back on.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

from portus.drivers.secretbox import SecretBox, SecretBoxError
from portus.ir.tls import CertFile

CACHE_DIR = "tls-cache"

_written: dict[str, str] = {}  # path -> digest of what is on disk, to skip rewrites
_lock = threading.Lock()


def _path(state_dir: Path, lb_id: str) -> Path:
    return state_dir / CACHE_DIR / f"{lb_id}.fernet"


def _entry(f: CertFile) -> str:
    return f"{f.name}\n{f.ref}\n{f.ca_ref or ''}"


def save(
    state_dir: Path,
    box: SecretBox,
    lb_id: str,
    files: tuple[CertFile, ...],
    texts: tuple[tuple[str, str], ...],
) -> None:
    """Remember ``texts`` (file name -> PEM) as fetched for ``files``."""
    by_name = dict(texts)
    plain = json.dumps({_entry(f): by_name[f.name] for f in files}, sort_keys=True).encode()
    digest = hashlib.sha256(plain).hexdigest()
    path = _path(state_dir, lb_id)
    with _lock:
        if _written.get(str(path)) == digest:
            return
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(box.encrypt(plain))
        os.replace(tmp, path)
        _written[str(path)] = digest


def load(
    state_dir: Path, box: SecretBox, lb_id: str, files: tuple[CertFile, ...]
) -> tuple[tuple[str, str], ...] | None:
    """(file name, PEM) for every one of ``files``, or None unless all were cached."""
    try:
        cached = json.loads(box.decrypt(_path(state_dir, lb_id).read_bytes()))
    except (OSError, ValueError, SecretBoxError):
        return None
    if not all(_entry(f) in cached for f in files):
        return None
    return tuple((f.name, str(cached[_entry(f)])) for f in files)


def forget(state_dir: Path, lb_id: str) -> None:
    """Drop an LB's cache (the LB is gone)."""
    path = _path(state_dir, lb_id)
    with _lock:
        _written.pop(str(path), None)
        path.unlink(missing_ok=True)
