"""Local network driver: make the host bridges of the declared subnets exist."""

from __future__ import annotations

import ipaddress
import logging

from portus.agent import netns
from portus.config import SubnetConfig

log = logging.getLogger(__name__)


def gateway_cidr(subnet: SubnetConfig) -> str | None:
    """``gateway/prefixlen`` for the host side of the subnet's bridge, if it has a gateway."""
    if not subnet.gateway:
        return None
    prefix = ipaddress.ip_network(subnet.cidr, strict=False).prefixlen
    return f"{subnet.gateway}/{prefix}"


def plug_subnet(subnet: SubnetConfig) -> None:
    """Ensure the bridge (with the gateway address, so the host reaches VIPs) exists.

    IPv4 forwarding is enabled only for subnets with an uplink: only then must the host route
    amphora traffic; a VIP reached from the host itself needs no forwarding.
    """
    netns.ensure_bridge(subnet.bridge, gateway_cidr(subnet))
    if subnet.uplink and netns.enable_ip_forward():
        log.warning("enabled net.ipv4.ip_forward for uplink %s of %s", subnet.uplink, subnet.id)
