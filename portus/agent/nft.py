"""Apply an nftables ruleset inside an amphora, atomically.

``nft -f`` applies a file as one transaction; the rendered file deletes and recreates its
own table, so applying is all-or-nothing and never touches other tables. The file is checked
by the same transaction: a bad ruleset is refused without changing anything.
"""

from __future__ import annotations

from pathlib import Path

from portus.agent.cmd import in_netns_only, run
from portus.agent.model import ApplyResult


def apply_ruleset(netns: str, path: Path, text: str) -> ApplyResult:
    try:
        if path.read_text() == text:
            return ApplyResult(changed=False, reloaded=False)
    except FileNotFoundError:
        pass
    staging = path.with_name(path.name + ".staging")
    staging.write_text(text)
    try:
        # One ``nft -f`` is one transaction: a bad file is refused whole and changes nothing,
        # so a separate ``nft -c`` pass would only double the cost.
        done = run(in_netns_only(netns, ["nft", "-f", str(staging)]), check=False)
        if done.returncode != 0:
            return ApplyResult(False, False, error=f"invalid nft ruleset: {done.stderr.strip()}")
        staging.replace(path)
    finally:
        staging.unlink(missing_ok=True)
    return ApplyResult(changed=True, reloaded=False)


def list_ruleset(netns: str) -> str:
    return run(["nft", "list", "ruleset"], netns=netns).stdout


def clear(netns: str, path: Path) -> ApplyResult:
    """Remove the amphora's rules (the namespace holds only Portus tables)."""
    if not path.exists():
        return ApplyResult(changed=False, reloaded=False)
    run(in_netns_only(netns, ["nft", "flush", "ruleset"]))
    path.unlink()
    return ApplyResult(changed=True, reloaded=False)
