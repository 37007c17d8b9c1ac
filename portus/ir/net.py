"""Address-family helpers shared by the translator (pure, no I/O)."""

from __future__ import annotations

import ipaddress
import re

_NON_IDENT = re.compile(r"[^A-Za-z0-9_]")


def family(address: str) -> str:
    """``"ip"`` or ``"ip6"`` (nftables' names) for an address or CIDR."""
    return "ip6" if ipaddress.ip_network(address, strict=False).version == 6 else "ip"


def nft_ident(text: str) -> str:
    """An id made safe for an nftables identifier (letters, digits, ``_``)."""
    return _NON_IDENT.sub("_", text)


def host_port(address: str, port: int) -> str:
    """``addr:port`` with IPv6 bracketed, the form HAProxy and nftables comments accept."""
    return f"[{address}]:{port}" if family(address) == "ip6" else f"{address}:{port}"


def bracketed(address: str) -> str:
    """An address as HAProxy wants it in ``addr``: IPv6 in brackets."""
    return f"[{address}]" if family(address) == "ip6" else address
