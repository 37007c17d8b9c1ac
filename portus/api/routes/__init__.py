"""One module per resource collection; ``ROUTERS`` is what the app mounts under /v2 and /v2.0."""

from __future__ import annotations

from fastapi import APIRouter

from portus.api.routes import (
    amphorae,
    availability_zones,
    flavors,
    healthmonitors,
    l7policies,
    l7rules,
    listeners,
    loadbalancers,
    members,
    network,
    pools,
    providers,
    quotas,
)

ROUTERS: list[APIRouter] = [
    loadbalancers.router,
    listeners.router,
    pools.router,
    members.router,
    healthmonitors.router,
    l7policies.router,
    l7rules.router,
    quotas.router,
    providers.router,
    flavors.router,
    availability_zones.router,
    amphorae.router,
    network.router,
]
