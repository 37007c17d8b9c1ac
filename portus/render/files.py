"""Everything one amphora needs, rendered in one call (what the reconciler ships to the agent)."""

from __future__ import annotations

from dataclasses import dataclass

from portus.ir.model import AmphoraIR
from portus.render.haproxy import render_haproxy
from portus.render.keepalived import render_keepalived
from portus.render.nftables import render_nftables
from portus.render.scripts import render_haproxy_check_script, render_ping_script


@dataclass(frozen=True)
class RenderedAmphora:
    """Rendered file contents; ``scripts`` maps absolute path -> executable script text."""

    haproxy_cfg: str
    nftables: str
    keepalived_conf: str | None
    scripts: tuple[tuple[str, str], ...]


def render_amphora(ir: AmphoraIR) -> RenderedAmphora:
    """All files for ``ir`` (pure, deterministic)."""
    scripts: list[tuple[str, str]] = []
    if ir.global_.external_check:
        scripts.append((ir.layout.ping_script, render_ping_script()))
    if ir.vrrp is not None:
        scripts.append((ir.layout.haproxy_check_script, render_haproxy_check_script(ir)))
    return RenderedAmphora(
        haproxy_cfg=render_haproxy(ir),
        nftables=render_nftables(ir),
        keepalived_conf=render_keepalived(ir),
        scripts=tuple(sorted(scripts)),
    )
