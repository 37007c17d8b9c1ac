"""Flavor and flavor profile bodies (flavor_data is JSON *text*, as in Octavia)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from portus.api.schemas.common import Body, Description, IdRef, Name

ProviderName = Annotated[str, Field(max_length=64)]
ProfileData = Annotated[str, Field(max_length=4096)]


class FlavorProfileCreate(Body):
    id: IdRef | None = None
    name: Name
    provider_name: ProviderName
    flavor_data: ProfileData


class FlavorProfileUpdate(Body):
    name: Name | None = None
    provider_name: ProviderName | None = None
    flavor_data: ProfileData | None = None


class FlavorCreate(Body):
    id: IdRef | None = None
    name: Name
    description: Description | None = None
    enabled: bool | None = True
    flavor_profile_id: IdRef


class FlavorUpdate(Body):
    name: Name | None = None
    description: Description | None = None
    enabled: bool | None = None


class FlavorProfileCreateBody(Body):
    flavorprofile: FlavorProfileCreate


class FlavorProfileUpdateBody(Body):
    flavorprofile: FlavorProfileUpdate


class FlavorCreateBody(Body):
    flavor: FlavorCreate


class FlavorUpdateBody(Body):
    flavor: FlavorUpdate
