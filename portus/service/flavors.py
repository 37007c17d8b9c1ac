"""Flavors and flavor profiles: admin-managed bundles of provider options an LB can name.

A profile's data is JSON text checked against its provider's capability table; once a flavor
uses a profile, the profile's provider and data are frozen (LBs were built from them).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portus import constants as c
from portus.db.models import Flavor, FlavorProfile, LoadBalancer, new_id
from portus.service import providers
from portus.service.common import Services
from portus.service.errors import ApiError, Conflict, InvalidInput, NotFound
from portus.service.policy import RequestContext

FLAVOR_LABEL = "Flavor"
PROFILE_LABEL = "Flavor profile"
# Octavia reserves the nil UUID; it never names a flavor.
NIL_ID = "00000000-0000-0000-0000-000000000000"


def refuse_nulls(changes: dict[str, Any], names: tuple[str, ...]) -> None:
    for name in names:
        if name in changes and changes[name] is None:
            raise InvalidInput(name, None, "Mandatory field missing.")


def refuse_taken_id(session: Session, model: type[Any], id_: str | None) -> None:
    if id_ and session.get(model, id_) is not None:
        raise Conflict("Already an entity with that specified id.")


# -- profiles ---------------------------------------------------------------------------------
def get_profile(session: Session, ctx: RequestContext, profile_id: str) -> FlavorProfile:
    ctx.require_admin()
    row = session.get(FlavorProfile, profile_id)
    if row is None:
        raise NotFound(PROFILE_LABEL, profile_id)
    return row


def create_profile(
    svc: Services, session: Session, ctx: RequestContext, body: dict[str, Any]
) -> FlavorProfile:
    ctx.require_admin()
    refuse_taken_id(session, FlavorProfile, body.get("id"))
    providers.validate_flavor_data(svc, body["provider_name"], body["flavor_data"])
    row = FlavorProfile(
        id=body.get("id") or new_id(),
        name=body["name"],
        provider_name=body["provider_name"],
        flavor_data=body["flavor_data"],
    )
    session.add(row)
    session.flush()
    return row


def _profile_in_use(session: Session, profile_id: str) -> bool:
    return bool(session.scalar(select(exists().where(Flavor.flavor_profile_id == profile_id))))


def update_profile(
    svc: Services, session: Session, ctx: RequestContext, profile_id: str, changes: dict[str, Any]
) -> FlavorProfile:
    row = get_profile(session, ctx, profile_id)
    refuse_nulls(changes, ("name", "provider_name", "flavor_data"))
    frozen = "provider_name" in changes or "flavor_data" in changes
    if frozen and _profile_in_use(session, row.id):
        raise Conflict(f"{PROFILE_LABEL} {row.id} is in use and cannot be modified.")
    provider = changes.get("provider_name", row.provider_name)
    data = changes.get("flavor_data", row.flavor_data)
    if frozen:
        providers.validate_flavor_data(svc, provider, data)
    row.name = changes.get("name", row.name)
    row.provider_name = provider
    row.flavor_data = data
    return row


def delete_profile(session: Session, ctx: RequestContext, profile_id: str) -> None:
    row = get_profile(session, ctx, profile_id)
    if _profile_in_use(session, row.id):
        raise Conflict(f"{PROFILE_LABEL} {row.id} is in use and cannot be modified.")
    session.delete(row)


# -- flavors ----------------------------------------------------------------------------------
def get_flavor(session: Session, ctx: RequestContext, flavor_id: str) -> Flavor:
    ctx.require_read(ctx.project_id)
    row = None if flavor_id == NIL_ID else session.get(Flavor, flavor_id)
    if row is None:
        raise NotFound(FLAVOR_LABEL, flavor_id)
    return row


def _refuse_duplicate_name(session: Session, name: str, own_id: str | None) -> None:
    other = session.scalar(select(Flavor.id).where(Flavor.name == name))
    if other is not None and other != own_id:
        raise Conflict(f"A flavor of {name} already exists.")


def create_flavor(session: Session, ctx: RequestContext, body: dict[str, Any]) -> Flavor:
    ctx.require_admin()
    if body.get("id") == NIL_ID:
        raise ApiError(f"Flavor id {NIL_ID} is reserved.")
    refuse_taken_id(session, Flavor, body.get("id"))
    if session.get(FlavorProfile, body["flavor_profile_id"]) is None:
        raise ApiError(f"{PROFILE_LABEL} {body['flavor_profile_id']} not found.")
    _refuse_duplicate_name(session, body["name"], None)
    enabled = body.get("enabled", True)
    row = Flavor(
        id=body.get("id") or new_id(),
        name=body["name"],
        description=body.get("description"),
        enabled=True if enabled is None else bool(enabled),
        flavor_profile_id=body["flavor_profile_id"],
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(f"A flavor of {body['name']} already exists.") from None
    return row


def update_flavor(
    session: Session, ctx: RequestContext, flavor_id: str, changes: dict[str, Any]
) -> Flavor:
    ctx.require_admin()
    row = get_flavor(session, ctx, flavor_id)
    refuse_nulls(changes, ("name",))
    if "name" in changes:
        _refuse_duplicate_name(session, changes["name"], row.id)
        row.name = changes["name"]
    if "description" in changes:
        row.description = changes["description"]
    if "enabled" in changes:
        row.enabled = True if changes["enabled"] is None else bool(changes["enabled"])
    return row


def delete_flavor(session: Session, ctx: RequestContext, flavor_id: str) -> None:
    ctx.require_admin()
    row = get_flavor(session, ctx, flavor_id)
    used = session.scalar(
        select(
            exists().where(
                LoadBalancer.flavor_id == row.id, LoadBalancer.provisioning_status != c.DELETED
            )
        )
    )
    if used:
        raise Conflict(f"{FLAVOR_LABEL} {row.id} is in use and cannot be modified.")
    session.delete(row)
