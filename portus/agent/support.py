"""Support files next to the configs (check scripts, certificates), confined to the run dir."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from portus.agent.errors import AgentError


def resolve(run_dir: Path, path: str) -> Path:
    """``path`` (relative, or absolute under ``run_dir``) as an absolute path inside it."""
    base = run_dir.resolve()
    target = (base / path).resolve() if not os.path.isabs(path) else Path(path).resolve()
    if target == base or base not in target.parents:
        raise AgentError(f"{path!r} is outside the amphora directory {run_dir}")
    return target


def write_files(run_dir: Path, entries: Sequence[tuple[str, str]], mode: int) -> bool:
    """Write each ``(path, text)`` whose content differs; True when anything changed."""
    changed = False
    for path, text in entries:
        target = resolve(run_dir, path)
        try:
            if target.read_text() == text:
                continue
        except (FileNotFoundError, UnicodeDecodeError):
            pass
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        tmp.touch(mode=mode)
        os.chmod(tmp, mode)
        tmp.write_text(text)
        os.replace(tmp, target)
        changed = True
    return changed
