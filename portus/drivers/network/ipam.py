"""Pure IPAM over a subnet's CIDR: hand out addresses, never the gateway or the edges.

The DB records which addresses are used; this function only decides, so it is trivially
testable and has no state of its own.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable


class IpamError(ValueError):
    """An address cannot be allocated; the message says why (in use, out of range, ...)."""


class AddressInUse(IpamError):
    pass


class OutOfRange(IpamError):
    pass


class Exhausted(IpamError):
    pass


def _normalise(addresses: Iterable[str]) -> set[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    return {ipaddress.ip_address(a) for a in addresses}


def allocate(
    cidr: str,
    used: set[str],
    requested: str | None = None,
    reserved: Iterable[str] = (),
    gateway: str | None = None,
) -> str:
    """Return ``requested`` if it is free and valid, else the lowest free host address.

    Never handed out: the network and (v4) broadcast addresses, the v6 subnet-router anycast
    address, the ``gateway``, anything in ``reserved`` or ``used``.
    """
    net = ipaddress.ip_network(cidr, strict=False)
    taken = _normalise(used) | _normalise(reserved)
    if gateway:
        taken.add(ipaddress.ip_address(gateway))
    edges = {net.network_address}
    if net.version == 4 and net.prefixlen < 31:
        edges.add(net.broadcast_address)
    if net.version == 6 and net.prefixlen < 127:
        edges.add(net.network_address)  # subnet-router anycast
    if requested is not None:
        try:
            addr = ipaddress.ip_address(requested)
        except ValueError as exc:
            raise IpamError(f"{requested!r} is not an IP address") from exc
        if addr.version != net.version or addr not in net:
            raise OutOfRange(f"{requested} is not in {net}")
        if addr in edges:
            raise OutOfRange(f"{requested} is the network or broadcast address of {net}")
        if gateway and addr == ipaddress.ip_address(gateway):
            raise AddressInUse(f"{requested} is the gateway of {net}")
        if addr in taken:
            raise AddressInUse(f"{requested} is already in use in {net}")
        return str(addr)
    first = int(net.network_address)
    last = int(net.broadcast_address)
    for value in range(first, last + 1):
        candidate = ipaddress.ip_address(value)
        if candidate not in edges and candidate not in taken:
            return str(candidate)
    raise Exhausted(f"no free address left in {net}")
