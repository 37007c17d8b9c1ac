"""Load balancer bodies."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from portus.api.schemas.common import (
    Body,
    Description,
    IdRef,
    IPAddress,
    Name,
    ProjectId,
    Tag,
)


class AdditionalVip(Body):
    subnet_id: IdRef
    ip_address: IPAddress | None = None
    port_id: IdRef | None = None


class LoadBalancerCreate(Body):
    name: Name | None = None
    description: Description | None = None
    admin_state_up: bool | None = True
    project_id: ProjectId | None = None
    tenant_id: ProjectId | None = None
    vip_address: IPAddress | None = None
    vip_port_id: IdRef | None = None
    vip_subnet_id: IdRef | None = None
    vip_network_id: IdRef | None = None
    vip_qos_policy_id: IdRef | None = None
    vip_sg_ids: list[IdRef] | None = None
    additional_vips: list[AdditionalVip] | None = None
    provider: str | None = Field(default=None, max_length=64)
    flavor_id: IdRef | None = None
    availability_zone: Name | None = None
    tags: list[Tag] | None = None
    # Single-call ("fully populated") create: validated by the listener/pool schemas.
    listeners: list[dict[str, Any]] | None = None
    pools: list[dict[str, Any]] | None = None


class LoadBalancerUpdate(Body):
    name: Name | None = None
    description: Description | None = None
    admin_state_up: bool | None = None
    vip_qos_policy_id: IdRef | None = None
    vip_sg_ids: list[IdRef] | None = None
    tags: list[Tag] | None = None


class LoadBalancerCreateBody(Body):
    loadbalancer: LoadBalancerCreate


class LoadBalancerUpdateBody(Body):
    loadbalancer: LoadBalancerUpdate
