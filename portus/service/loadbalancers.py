"""Load balancer use cases: create (also fully populated), update, delete, failover, stats,
status tree."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portus import constants as c
from portus.db.graph import children, load_lb_graph
from portus.db.models import (
    Amphora,
    AvailabilityZone,
    Flavor,
    FlavorProfile,
    Listener,
    ListenerStats,
    LoadBalancer,
    Pool,
    new_id,
)
from portus.service import network
from portus.service.common import (
    Services,
    check_quota,
    get_scoped,
    mark,
    refuse_if_deleting,
    set_tags,
    touch_lb,
)
from portus.service.errors import ApiError, Conflict, NotFound
from portus.service.policy import RequestContext

LABEL = "Load Balancer"
PROVIDER_ALIASES = {"octavia": "amphora", "amphorav2": "amphora"}


def provider_name(svc: Services, requested: str | None) -> str:
    name = requested or svc.settings.provider
    canonical = PROVIDER_ALIASES.get(name, name)
    if canonical not in svc.enabled_providers:
        raise ApiError(f"Provider '{name}' is not enabled.")
    return canonical


def _flavor_topology(
    svc: Services, session: Session, flavor_id: str | None, provider: str | None
) -> tuple[str | None, str]:
    """(provider from the flavor, topology) for an LB create."""
    topology = svc.settings.loadbalancer_topology
    if not flavor_id:
        return provider, topology
    flavor = session.get(Flavor, flavor_id)
    if flavor is None:
        raise ApiError(f"Flavor {flavor_id} not found.")
    if not flavor.enabled:
        raise ApiError(f"The selected flavor is not allowed in this deployment: {flavor_id}")
    profile = session.get(FlavorProfile, flavor.flavor_profile_id)
    assert profile is not None
    flavor_provider = PROVIDER_ALIASES.get(profile.provider_name, profile.provider_name)
    if provider and PROVIDER_ALIASES.get(provider, provider) != flavor_provider:
        raise ApiError(f"Flavor '{flavor_id}' is not compatible with provider '{provider}'")
    try:
        data = json.loads(profile.flavor_data or "{}")
    except ValueError:
        data = {}
    topology = data.get("loadbalancer_topology", topology)
    return flavor_provider, topology


def create(svc: Services, session: Session, ctx: RequestContext, body: dict[str, Any]) -> str:
    project_id = ctx.project_for_create(body.get("project_id") or body.get("tenant_id"))
    ctx.require_write(project_id)
    check_quota(svc, session, project_id, "loadbalancer")
    flavor_provider, topology = _flavor_topology(
        svc, session, body.get("flavor_id"), body.get("provider")
    )
    provider = provider_name(svc, body.get("provider") or flavor_provider)
    if az_name := body.get("availability_zone"):
        az = session.get(AvailabilityZone, az_name)
        if az is None:
            raise ApiError(f"Availability zone {az_name} not found.")
        if not az.enabled:
            raise ApiError(
                f"The selected availability_zone is not allowed in this deployment: {az_name}"
            )
    lb_id = new_id()
    strict = provider != "noop"
    vip = network.resolve_vip(
        session,
        svc.settings,
        lb_id,
        subnet_ref=body.get("vip_subnet_id"),
        network_ref=body.get("vip_network_id"),
        port_ref=body.get("vip_port_id"),
        address=body.get("vip_address"),
        strict=strict,
    )
    additional = []
    for extra in body.get("additional_vips") or []:
        sub = extra["subnet_id"]
        choice = network.resolve_vip(
            session,
            svc.settings,
            lb_id,
            subnet_ref=sub,
            network_ref=None,
            port_ref=extra.get("port_id"),
            address=extra.get("ip_address"),
            strict=strict,
        )
        additional.append(
            {
                "subnet_id": choice.subnet_id,
                "ip_address": choice.address,
                "port_id": extra.get("port_id"),
            }
        )
    lb = LoadBalancer(
        id=lb_id,
        project_id=project_id,
        name=body.get("name"),
        description=body.get("description"),
        admin_state_up=bool(body.get("admin_state_up", True)),
        vip_address=vip.address,
        vip_port_id=vip.port_id or new_id(),
        vip_subnet_id=vip.subnet_id,
        vip_network_id=vip.network_id,
        vip_qos_policy_id=body.get("vip_qos_policy_id"),
        vip_sg_ids=body.get("vip_sg_ids"),
        additional_vips=additional,
        provider=provider,
        flavor_id=body.get("flavor_id"),
        availability_zone=body.get("availability_zone"),
        topology=topology,
        provisioning_status=c.PENDING_CREATE,
        operating_status=c.OFFLINE,
        generation=0,
    )
    session.add(lb)
    session.flush()
    set_tags(session, lb.id, body.get("tags"), new=True)
    if body.get("listeners") or body.get("pools"):
        from portus.service import graph

        graph.create_children(
            svc, session, ctx, lb, body.get("listeners") or [], body.get("pools") or []
        )
    touch_lb(svc, session, lb)
    return lb.id


def update(
    svc: Services, session: Session, ctx: RequestContext, lb_id: str, changes: dict[str, Any]
) -> None:
    lb = get_scoped(session, ctx, LoadBalancer, lb_id, LABEL)
    ctx.require_write(lb.project_id)
    refuse_if_deleting(lb, LABEL)
    for key in ("name", "description", "vip_qos_policy_id", "vip_sg_ids"):
        if key in changes:
            setattr(lb, key, changes[key])
    if "admin_state_up" in changes:
        lb.admin_state_up = bool(changes["admin_state_up"])
    if "tags" in changes:
        set_tags(session, lb.id, changes["tags"])
    touch_lb(svc, session, lb)


def delete(svc: Services, session: Session, ctx: RequestContext, lb_id: str, cascade: bool) -> None:
    lb = get_scoped(session, ctx, LoadBalancer, lb_id, LABEL)
    ctx.require_write(lb.project_id)
    if lb.provisioning_status == c.PENDING_DELETE:
        raise Conflict(f"Invalid state {lb.provisioning_status} of loadbalancer resource {lb.id}")
    has_children = bool(
        session.scalar(
            select(func.count()).select_from(Listener).where(Listener.load_balancer_id == lb.id)
        )
        or session.scalar(
            select(func.count()).select_from(Pool).where(Pool.load_balancer_id == lb.id)
        )
    )
    if has_children and not cascade:
        raise ApiError(f"Cannot delete Load Balancer {lb.id} - it has children")
    graph = load_lb_graph(session, lb.id)
    assert graph is not None
    for child in children(graph):
        mark(child, c.PENDING_DELETE)
    mark(lb, c.PENDING_DELETE)
    touch_lb(svc, session, lb)


def failover(svc: Services, session: Session, ctx: RequestContext, lb_id: str) -> None:
    lb = get_scoped(session, ctx, LoadBalancer, lb_id, LABEL)
    ctx.require_admin()
    if lb.provisioning_status == c.PENDING_DELETE:
        raise Conflict(f"Invalid state {lb.provisioning_status} of loadbalancer resource {lb.id}")
    for amp in session.scalars(select(Amphora).where(Amphora.load_balancer_id == lb.id)):
        amp.status = "PENDING_DELETE"
    touch_lb(svc, session, lb)


def stats(session: Session, ctx: RequestContext, lb_id: str) -> dict[str, int]:
    lb = get_scoped(session, ctx, LoadBalancer, lb_id, LABEL)
    row = session.execute(
        select(
            func.coalesce(func.sum(ListenerStats.bytes_in), 0),
            func.coalesce(func.sum(ListenerStats.bytes_out), 0),
            func.coalesce(func.sum(ListenerStats.active_connections), 0),
            func.coalesce(func.sum(ListenerStats.total_connections), 0),
            func.coalesce(func.sum(ListenerStats.request_errors), 0),
        ).where(ListenerStats.load_balancer_id == lb.id)
    ).one()
    keys = ("bytes_in", "bytes_out", "active_connections", "total_connections", "request_errors")
    return {k: int(v) for k, v in zip(keys, row, strict=True)}


def status_tree(session: Session, ctx: RequestContext, lb_id: str) -> dict[str, Any]:
    lb0 = get_scoped(session, ctx, LoadBalancer, lb_id, LABEL)
    lb = load_lb_graph(session, lb0.id)
    if lb is None:
        raise NotFound(LABEL, lb_id)
    pools_by_id = {p.id: p for p in lb.pools}

    def pool_status(pool: Pool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": pool.id,
            "name": pool.name or "",
            "provisioning_status": pool.provisioning_status,
            "operating_status": pool.operating_status,
        }
        hm = pool.health_monitor
        if hm is not None:
            out["health_monitor"] = {
                "id": hm.id,
                "name": hm.name or "",
                "type": hm.type,
                "provisioning_status": hm.provisioning_status,
                "operating_status": hm.operating_status,
            }
        out["members"] = [
            {
                "id": m.id,
                "name": m.name or "",
                "address": m.address,
                "protocol_port": m.protocol_port,
                "provisioning_status": m.provisioning_status,
                "operating_status": m.operating_status,
            }
            for m in pool.members
        ]
        return out

    listeners = []
    for listener in lb.listeners:
        ids: list[str] = []
        if listener.default_pool_id:
            ids.append(listener.default_pool_id)
        for policy in listener.l7policies:
            if (
                policy.action == "REDIRECT_TO_POOL"
                and policy.admin_state_up
                and policy.rules
                and policy.redirect_pool_id
                and policy.redirect_pool_id not in ids
            ):
                ids.append(policy.redirect_pool_id)
        listeners.append(
            {
                "id": listener.id,
                "name": listener.name or "",
                "provisioning_status": listener.provisioning_status,
                "operating_status": listener.operating_status,
                "pools": [pool_status(pools_by_id[i]) for i in ids if i in pools_by_id],
            }
        )
    return {
        "loadbalancer": {
            "id": lb.id,
            "name": lb.name or "",
            "provisioning_status": lb.provisioning_status,
            "operating_status": lb.operating_status,
            "listeners": listeners,
        }
    }
