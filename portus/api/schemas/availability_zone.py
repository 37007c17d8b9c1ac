"""Availability zone (keyed by name) and AZ profile bodies."""

from __future__ import annotations

from portus.api.schemas.common import Body, Description, IdRef, Name
from portus.api.schemas.flavor import ProfileData, ProviderName


class AvailabilityZoneProfileCreate(Body):
    id: IdRef | None = None
    name: Name
    provider_name: ProviderName
    availability_zone_data: ProfileData


class AvailabilityZoneProfileUpdate(Body):
    name: Name | None = None
    provider_name: ProviderName | None = None
    availability_zone_data: ProfileData | None = None


class AvailabilityZoneCreate(Body):
    name: Name
    description: Description | None = None
    enabled: bool | None = True
    availability_zone_profile_id: IdRef


class AvailabilityZoneUpdate(Body):
    description: Description | None = None
    enabled: bool | None = None


class AvailabilityZoneProfileCreateBody(Body):
    availability_zone_profile: AvailabilityZoneProfileCreate


class AvailabilityZoneProfileUpdateBody(Body):
    availability_zone_profile: AvailabilityZoneProfileUpdate


class AvailabilityZoneCreateBody(Body):
    availability_zone: AvailabilityZoneCreate


class AvailabilityZoneUpdateBody(Body):
    availability_zone: AvailabilityZoneUpdate
