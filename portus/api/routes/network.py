"""A read-only slice of Neutron's API over the networks declared in Portus' config.

The openstack CLI resolves ``--vip-subnet-id public`` (and other names) by asking the network
service, which with ``--os-endpoint`` is this same endpoint. Answering those lookups lets the CLI
work against Portus with no Neutron at all.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from portus.api.deps import context, services
from portus.config import SubnetConfig
from portus.service.common import Services
from portus.service.errors import NotFound
from portus.service.policy import RequestContext

router = APIRouter(tags=["network"])


def _subnet(s: SubnetConfig, project_id: str | None) -> dict[str, Any]:
    net = ipaddress.ip_network(s.cidr, strict=False)
    return {
        "id": s.id,
        "name": s.name,
        "network_id": s.network_id,
        "cidr": str(net),
        "ip_version": net.version,
        "gateway_ip": s.gateway,
        "enable_dhcp": False,
        "project_id": project_id,
        "tenant_id": project_id,
        "tags": [],
    }


def _networks(svc: Services, project_id: str | None) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for s in svc.settings.subnets:
        net = seen.setdefault(
            s.network_id,
            {
                "id": s.network_id,
                "name": s.network_name,
                "subnets": [],
                "status": "ACTIVE",
                "admin_state_up": True,
                "shared": True,
                "router:external": True,
                "project_id": project_id,
                "tenant_id": project_id,
                "tags": [],
            },
        )
        net["subnets"].append(s.id)
    return list(seen.values())


def _filter(items: list[dict[str, Any]], request: Request) -> list[dict[str, Any]]:
    out = items
    for key, value in request.query_params.multi_items():
        if key in ("fields", "limit", "marker", "sort_key", "sort_dir"):
            continue
        out = [i for i in out if str(i.get(key)) == value]
    return out


@router.get("/subnets")
def list_subnets(
    request: Request, svc: Services = Depends(services), ctx: RequestContext = Depends(context)
) -> JSONResponse:
    items = [_subnet(s, ctx.project_id) for s in svc.settings.subnets]
    return JSONResponse({"subnets": _filter(items, request)})


@router.get("/subnets/{subnet_id}")
def show_subnet(
    subnet_id: str, svc: Services = Depends(services), ctx: RequestContext = Depends(context)
) -> JSONResponse:
    for s in svc.settings.subnets:
        if s.id == subnet_id:
            return JSONResponse({"subnet": _subnet(s, ctx.project_id)})
    raise NotFound("Subnet", subnet_id)


@router.get("/networks")
def list_networks(
    request: Request, svc: Services = Depends(services), ctx: RequestContext = Depends(context)
) -> JSONResponse:
    return JSONResponse({"networks": _filter(_networks(svc, ctx.project_id), request)})


@router.get("/networks/{network_id}")
def show_network(
    network_id: str, svc: Services = Depends(services), ctx: RequestContext = Depends(context)
) -> JSONResponse:
    for net in _networks(svc, ctx.project_id):
        if net["id"] == network_id:
            return JSONResponse({"network": net})
    raise NotFound("Network", network_id)


@router.get("/ports")
def list_ports() -> JSONResponse:
    return JSONResponse({"ports": []})


@router.get("/ports/{port_id}")
def show_port(port_id: str) -> JSONResponse:
    raise NotFound("Port", port_id)
