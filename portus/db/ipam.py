"""Addresses handed out on the configured subnets, recorded in ``ip_allocations``.

The choice of address is the pure ``portus.drivers.network.ipam.allocate``; this module only
supplies what is in use and records the result in the caller's transaction.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from portus import constants as c
from portus.db.models import IPAllocation
from portus.drivers.network import ipam


def used(session: Session, subnet_id: str) -> set[str]:
    return set(
        session.scalars(select(IPAllocation.address).where(IPAllocation.subnet_id == subnet_id))
    )


def allocate(
    session: Session,
    subnet_id: str,
    cidr: str,
    owner_id: str,
    requested: str | None = None,
    gateway: str | None = None,
    purpose: str = "vip",
) -> str:
    """Raises ``ipam.AddressInUse`` / ``OutOfRange`` / ``Exhausted``."""
    address = ipam.allocate(
        cidr, used(session, subnet_id), requested, reserved=c.RESERVED_IPS, gateway=gateway
    )
    session.add(
        IPAllocation(subnet_id=subnet_id, address=address, owner_id=owner_id, purpose=purpose)
    )
    return address


def owned(session: Session, owner_id: str, subnet_id: str) -> str | None:
    return session.scalar(
        select(IPAllocation.address).where(
            IPAllocation.owner_id == owner_id, IPAllocation.subnet_id == subnet_id
        )
    )


def release(session: Session, owner_id: str) -> None:
    session.execute(delete(IPAllocation).where(IPAllocation.owner_id == owner_id))
