"""Providers and what their flavors and availability zones may say.

The capability tables are the single source for both the capability API and the validation of
flavor / AZ profile data, so a profile can only hold keys the provider documents.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from portus import constants as c
from portus.service.common import Services
from portus.service.errors import ApiError, InvalidInput, NotImplementedByProvider
from portus.service.loadbalancers import PROVIDER_ALIASES
from portus.service.policy import RequestContext

DESCRIPTIONS = {
    "amphora": "The Portus amphora driver: HAProxy, keepalived and nftables in network namespaces.",
    "noop": "The Portus no-op driver: accepts every request and builds nothing.",
    "octavia": "Deprecated alias of the amphora driver.",
}


@dataclass(frozen=True)
class Capability:
    name: str
    description: str
    check: Callable[[Any], bool]


def _str(value: Any) -> bool:
    return isinstance(value, str)


def _bool(value: Any) -> bool:
    return isinstance(value, bool)


def _str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _topology(value: Any) -> bool:
    return value in c.TOPOLOGIES


TOPOLOGY = Capability(
    "loadbalancer_topology",
    "The load balancer topology: SINGLE (one amphora) or ACTIVE_STANDBY (two, VRRP).",
    _topology,
)
FLAVOR_CAPABILITIES: dict[str, tuple[Capability, ...]] = {
    "amphora": (
        TOPOLOGY,
        Capability(
            "compute_flavor",
            "The resource class of the amphora (maps to its cgroup CPU/memory limits).",
            _str,
        ),
        Capability(
            "amp_image_tag", "Accepted for compatibility; Portus amphorae need no image.", _str
        ),
        Capability(
            "sriov_vip", "Plug the VIP through an SR-IOV virtual function (boolean).", _bool
        ),
        Capability(
            "allow_member_sriov", "Allow members on SR-IOV virtual functions (boolean).", _bool
        ),
    ),
    "noop": (
        TOPOLOGY,
        Capability("compute_flavor", "Recorded and ignored by the no-op driver.", _str),
    ),
}
AZ_CAPABILITIES: dict[str, tuple[Capability, ...]] = {
    "amphora": (
        Capability("compute_zone", "The group of LB hosts amphorae are placed on.", _str),
        Capability("volume_zone", "Accepted for compatibility; amphorae use no volumes.", _str),
        Capability("management_network", "The network of the amphorae' management legs.", _str),
        Capability(
            "valid_vip_networks",
            "The networks a VIP may be allocated on in this zone (list of ids or names).",
            _str_list,
        ),
    ),
    "noop": (Capability("compute_zone", "Recorded and ignored by the no-op driver.", _str),),
}


def listed(svc: Services) -> list[dict[str, str]]:
    """Every enabled provider, plus the ``octavia`` alias where the amphora driver runs."""
    out = [{"name": n, "description": DESCRIPTIONS.get(n, n)} for n in svc.enabled_providers]
    if "amphora" in svc.enabled_providers:
        out.append({"name": "octavia", "description": DESCRIPTIONS["octavia"]})
    return out


def list_providers(svc: Services, ctx: RequestContext) -> list[dict[str, str]]:
    ctx.require_read(ctx.project_id)
    return listed(svc)


def canonical(svc: Services, name: str) -> str:
    """The driver behind ``name``; 400 when it is not enabled here."""
    real = PROVIDER_ALIASES.get(name, name)
    if real not in svc.enabled_providers:
        raise ApiError(f"Provider '{name}' is not enabled.")
    return real


def _table(
    svc: Services, name: str, tables: dict[str, tuple[Capability, ...]]
) -> tuple[Capability, ...]:
    real = canonical(svc, name)
    if real not in tables:
        raise NotImplementedByProvider(f"Provider '{name}' was not found.")
    return tables[real]


def flavor_capabilities(svc: Services, ctx: RequestContext, name: str) -> list[dict[str, str]]:
    ctx.require_admin()
    return [
        {"name": x.name, "description": x.description}
        for x in _table(svc, name, FLAVOR_CAPABILITIES)
    ]


def az_capabilities(svc: Services, ctx: RequestContext, name: str) -> list[dict[str, str]]:
    ctx.require_admin()
    return [
        {"name": x.name, "description": x.description} for x in _table(svc, name, AZ_CAPABILITIES)
    ]


def _validate(
    svc: Services,
    provider: str,
    field: str,
    text: str,
    tables: dict[str, tuple[Capability, ...]],
) -> None:
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise InvalidInput(field, text, "Value should be the JSON text of an object")
    caps = {cap.name: cap for cap in _table(svc, provider, tables)}
    unknown = sorted(set(data) - set(caps))
    if unknown:
        raise ApiError(
            f"Validation failure: provider '{provider}' does not support the option(s) "
            f"{', '.join(unknown)} in {field}; supported: {', '.join(caps)}."
        )
    for key, value in data.items():
        if not caps[key].check(value):
            raise ApiError(
                f"Validation failure: {json.dumps(value)} is not a valid value for {key} "
                f"({caps[key].description})"
            )


def validate_flavor_data(svc: Services, provider: str, text: str) -> None:
    _validate(svc, provider, "flavor_data", text, FLAVOR_CAPABILITIES)


def validate_az_data(svc: Services, provider: str, text: str) -> None:
    _validate(svc, provider, "availability_zone_data", text, AZ_CAPABILITIES)
