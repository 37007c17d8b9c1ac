"""Availability zones (keyed by name) and their profiles: where a provider builds an LB.

Same rules as flavors: a profile's data is checked against the provider's AZ capabilities and
is frozen while a zone uses it; a zone used by an LB cannot be deleted.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from portus import constants as c
from portus.db.models import AvailabilityZone, AvailabilityZoneProfile, LoadBalancer, new_id
from portus.service import providers
from portus.service.common import Services
from portus.service.errors import ApiError, Conflict, NotFound
from portus.service.flavors import refuse_nulls, refuse_taken_id
from portus.service.policy import RequestContext

AZ_LABEL = "Availability zone"
PROFILE_LABEL = "Availability zone profile"


# -- profiles ---------------------------------------------------------------------------------
def get_profile(session: Session, ctx: RequestContext, profile_id: str) -> AvailabilityZoneProfile:
    ctx.require_admin()
    row = session.get(AvailabilityZoneProfile, profile_id)
    if row is None:
        raise NotFound(PROFILE_LABEL, profile_id)
    return row


def create_profile(
    svc: Services, session: Session, ctx: RequestContext, body: dict[str, Any]
) -> AvailabilityZoneProfile:
    ctx.require_admin()
    refuse_taken_id(session, AvailabilityZoneProfile, body.get("id"))
    providers.validate_az_data(svc, body["provider_name"], body["availability_zone_data"])
    row = AvailabilityZoneProfile(
        id=body.get("id") or new_id(),
        name=body["name"],
        provider_name=body["provider_name"],
        availability_zone_data=body["availability_zone_data"],
    )
    session.add(row)
    session.flush()
    return row


def _profile_in_use(session: Session, profile_id: str) -> bool:
    return bool(
        session.scalar(
            select(exists().where(AvailabilityZone.availability_zone_profile_id == profile_id))
        )
    )


def update_profile(
    svc: Services, session: Session, ctx: RequestContext, profile_id: str, changes: dict[str, Any]
) -> AvailabilityZoneProfile:
    row = get_profile(session, ctx, profile_id)
    refuse_nulls(changes, ("name", "provider_name", "availability_zone_data"))
    frozen = "provider_name" in changes or "availability_zone_data" in changes
    if frozen and _profile_in_use(session, row.id):
        raise Conflict(f"{PROFILE_LABEL} {row.id} is in use and cannot be modified.")
    provider = changes.get("provider_name", row.provider_name)
    data = changes.get("availability_zone_data", row.availability_zone_data)
    if frozen:
        providers.validate_az_data(svc, provider, data)
    row.name = changes.get("name", row.name)
    row.provider_name = provider
    row.availability_zone_data = data
    return row


def delete_profile(session: Session, ctx: RequestContext, profile_id: str) -> None:
    row = get_profile(session, ctx, profile_id)
    if _profile_in_use(session, row.id):
        raise Conflict(f"{PROFILE_LABEL} {row.id} is in use and cannot be modified.")
    session.delete(row)


# -- zones ------------------------------------------------------------------------------------
def get_zone(session: Session, ctx: RequestContext, name: str) -> AvailabilityZone:
    ctx.require_read(ctx.project_id)
    row = session.get(AvailabilityZone, name)
    if row is None:
        raise NotFound(AZ_LABEL, name)
    return row


def create_zone(session: Session, ctx: RequestContext, body: dict[str, Any]) -> AvailabilityZone:
    ctx.require_admin()
    if session.get(AvailabilityZone, body["name"]) is not None:
        raise Conflict(f"A availability zone of {body['name']} already exists.")
    profile_id = body["availability_zone_profile_id"]
    if session.get(AvailabilityZoneProfile, profile_id) is None:
        raise ApiError(f"{PROFILE_LABEL} {profile_id} not found.")
    enabled = body.get("enabled", True)
    row = AvailabilityZone(
        name=body["name"],
        description=body.get("description"),
        enabled=True if enabled is None else bool(enabled),
        availability_zone_profile_id=profile_id,
    )
    session.add(row)
    session.flush()
    return row


def update_zone(
    session: Session, ctx: RequestContext, name: str, changes: dict[str, Any]
) -> AvailabilityZone:
    ctx.require_admin()
    row = get_zone(session, ctx, name)
    if "description" in changes:
        row.description = changes["description"]
    if "enabled" in changes:
        row.enabled = True if changes["enabled"] is None else bool(changes["enabled"])
    return row


def delete_zone(session: Session, ctx: RequestContext, name: str) -> None:
    ctx.require_admin()
    row = get_zone(session, ctx, name)
    used = session.scalar(
        select(
            exists().where(
                LoadBalancer.availability_zone == row.name,
                LoadBalancer.provisioning_status != c.DELETED,
            )
        )
    )
    if used:
        raise Conflict(f"{AZ_LABEL} {row.name} is in use and cannot be modified.")
    session.delete(row)
