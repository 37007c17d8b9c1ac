"""VIP resolution and address allocation over the networks declared in config.

Subnets and networks are named in requests by id or name. The ``noop`` provider, like Octavia's
noop drivers, accepts ids it does not know (and invents a VIP from a documentation range), so the
API can be exercised without any network.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from sqlalchemy.orm import Session

from portus import constants as c
from portus.config import Settings, SubnetConfig
from portus.db import ipam
from portus.db.models import IPAllocation
from portus.drivers.network.ipam import AddressInUse, Exhausted, OutOfRange
from portus.service.errors import ApiError, Conflict, ValidationFailure

NOOP_CIDR = "198.51.100.0/24"
NOOP_CIDR6 = "2001:db8:ffff::/64"


@dataclass(frozen=True)
class VipChoice:
    subnet_id: str
    network_id: str
    address: str
    port_id: str | None


def find_subnet(settings: Settings, ref: str) -> SubnetConfig | None:
    for subnet in settings.subnets:
        if ref in (subnet.id, subnet.name):
            return subnet
    return None


def subnets_of_network(settings: Settings, ref: str) -> list[SubnetConfig]:
    return [s for s in settings.subnets if ref in (s.network_id, s.network_name)]


def allocate(
    session: Session,
    subnet_id: str,
    cidr: str,
    owner_id: str,
    requested: str | None,
    gateway: str | None = None,
    purpose: str = "vip",
) -> str:
    """Hand out an address of ``cidr`` (the requested one if free); 409 if it is taken."""
    try:
        return ipam.allocate(session, subnet_id, cidr, owner_id, requested, gateway, purpose)
    except AddressInUse:
        raise Conflict(f"The VIP IP address is already in use: {requested}") from None
    except OutOfRange:
        raise ValidationFailure(f"IP address {requested} is not in subnet {subnet_id}.") from None
    except Exhausted:
        raise Conflict(f"No more IP addresses available on subnet {subnet_id}.") from None


def resolve_vip(
    session: Session,
    settings: Settings,
    lb_id: str,
    *,
    subnet_ref: str | None,
    network_ref: str | None,
    port_ref: str | None,
    address: str | None,
    strict: bool,
) -> VipChoice:
    """Pick the VIP subnet and address; ``strict`` (real providers) refuses unknown networks."""
    if not (subnet_ref or network_ref or port_ref):
        raise ValidationFailure(
            "VIP must contain one of: vip_port_id, vip_network_id, vip_subnet_id."
        )
    subnet: SubnetConfig | None = None
    if subnet_ref:
        subnet = find_subnet(settings, subnet_ref)
        if subnet is None and strict:
            raise ApiError(f"Subnet {subnet_ref} not found.")
        if subnet and network_ref and network_ref not in (subnet.network_id, subnet.network_name):
            raise ValidationFailure(f"vip_subnet_id {subnet_ref} is not on network {network_ref}.")
    elif network_ref:
        candidates = subnets_of_network(settings, network_ref)
        if not candidates and strict:
            raise ApiError(f"Network {network_ref} not found.")
        if address:
            ip = ipaddress.ip_address(address)
            candidates = [
                s for s in candidates if ip in ipaddress.ip_network(s.cidr, strict=False)
            ] or candidates
        candidates.sort(key=lambda s: ipaddress.ip_network(s.cidr, strict=False).version)
        subnet = candidates[0] if candidates else None
    elif strict:
        raise ApiError(f"Port {port_ref} not found.")

    if subnet is not None:
        chosen = allocate(session, subnet.id, subnet.cidr, lb_id, address, subnet.gateway)
        return VipChoice(subnet.id, subnet.network_id, chosen, port_ref)

    # noop: accept the unknown reference as given.
    pseudo_subnet = subnet_ref or network_ref or port_ref or "noop"
    cidr = NOOP_CIDR
    if address and ipaddress.ip_address(address).version == 6:
        cidr = NOOP_CIDR6
    if address and ipaddress.ip_address(address) not in ipaddress.ip_network(cidr):
        if address in ipam.used(session, pseudo_subnet):
            raise Conflict(f"The VIP IP address is already in use: {address}")
        session.add(IPAllocation(subnet_id=pseudo_subnet, address=address, owner_id=lb_id))
        chosen = address
    else:
        chosen = allocate(session, pseudo_subnet, cidr, lb_id, address)
    return VipChoice(subnet_ref or pseudo_subnet, network_ref or pseudo_subnet, chosen, port_ref)


def reserved(address: str) -> bool:
    return address in c.RESERVED_IPS
