"""Portus render layer: IR -> haproxy.cfg, nftables ruleset, keepalived.conf (pure)."""

from portus.render.files import RenderedAmphora, render_amphora
from portus.render.haproxy import render_haproxy, server_keywords
from portus.render.keepalived import render_keepalived
from portus.render.nftables import render_nftables

__all__ = [
    "RenderedAmphora",
    "render_amphora",
    "render_haproxy",
    "render_keepalived",
    "render_nftables",
    "server_keywords",
]
