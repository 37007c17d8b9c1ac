"""The loaded DB graph of one LB as the translator's input (``portus.ir.desired``).

Objects on their way out (PENDING_DELETE) are left out: the data plane should already stop
serving them while the reconcile that removes their rows is in flight.
"""

from __future__ import annotations

from dataclasses import replace

from portus import constants as c
from portus.db.models import (
    Amphora,
    HealthMonitor,
    L7Policy,
    L7Rule,
    Listener,
    LoadBalancer,
    Member,
    Pool,
)
from portus.ir.desired import (
    AmphoraSpec,
    HealthMonitorSpec,
    L7PolicySpec,
    L7RuleSpec,
    ListenerSpec,
    LoadBalancerSpec,
    MemberSpec,
    PoolSpec,
    SessionPersistenceSpec,
    frozen_items,
)


def _live(obj: object) -> bool:
    return getattr(obj, "provisioning_status", None) not in (c.PENDING_DELETE, c.DELETED)


def _tuple(values: list[str] | None) -> tuple[str, ...] | None:
    return tuple(values) if values is not None else None


def rule_spec(r: L7Rule) -> L7RuleSpec:
    return L7RuleSpec(
        id=r.id,
        type=r.type,
        compare_type=r.compare_type,
        value=r.value,
        key=r.key,
        invert=r.invert,
        admin_state_up=r.admin_state_up,
    )


def policy_spec(p: L7Policy) -> L7PolicySpec:
    return L7PolicySpec(
        id=p.id,
        action=p.action,
        position=p.position,
        rules=tuple(rule_spec(r) for r in p.rules if _live(r)),
        redirect_pool_id=p.redirect_pool_id,
        redirect_url=p.redirect_url,
        redirect_prefix=p.redirect_prefix,
        redirect_http_code=p.redirect_http_code,
        admin_state_up=p.admin_state_up,
        name=p.name,
    )


def monitor_spec(h: HealthMonitor) -> HealthMonitorSpec:
    return HealthMonitorSpec(
        id=h.id,
        type=h.type,
        delay=h.delay,
        timeout=h.timeout,
        max_retries=h.max_retries,
        max_retries_down=h.max_retries_down,
        http_method=h.http_method,
        url_path=h.url_path,
        expected_codes=h.expected_codes,
        http_version=h.http_version,
        domain_name=h.domain_name,
        admin_state_up=h.admin_state_up,
        name=h.name,
    )


def member_spec(m: Member) -> MemberSpec:
    return MemberSpec(
        id=m.id,
        address=m.address,
        protocol_port=m.protocol_port,
        weight=m.weight,
        backup=m.backup,
        monitor_address=m.monitor_address,
        monitor_port=m.monitor_port,
        admin_state_up=m.admin_state_up,
        subnet_id=m.subnet_id,
        name=m.name,
    )


def pool_spec(p: Pool) -> PoolSpec:
    hm = p.health_monitor
    return PoolSpec(
        id=p.id,
        protocol=p.protocol,
        lb_algorithm=p.lb_algorithm,
        members=tuple(member_spec(m) for m in p.members if _live(m)),
        healthmonitor=monitor_spec(hm) if hm is not None and _live(hm) else None,
        session_persistence=SessionPersistenceSpec.from_api(p.session_persistence),
        admin_state_up=p.admin_state_up,
        name=p.name,
        tls_enabled=p.tls_enabled,
        tls_container_ref=p.tls_container_ref,
        ca_tls_container_ref=p.ca_tls_container_ref,
        crl_container_ref=p.crl_container_ref,
        tls_ciphers=p.tls_ciphers,
        tls_versions=_tuple(p.tls_versions),
        alpn_protocols=_tuple(p.alpn_protocols),
    )


def listener_spec(li: Listener) -> ListenerSpec:
    return ListenerSpec(
        id=li.id,
        protocol=li.protocol,
        protocol_port=li.protocol_port,
        admin_state_up=li.admin_state_up,
        name=li.name,
        connection_limit=li.connection_limit,
        default_pool_id=li.default_pool_id,
        l7policies=tuple(policy_spec(p) for p in li.l7policies if _live(p)),
        insert_headers=frozen_items(li.insert_headers),
        timeout_client_data=li.timeout_client_data,
        timeout_member_connect=li.timeout_member_connect,
        timeout_member_data=li.timeout_member_data,
        timeout_tcp_inspect=li.timeout_tcp_inspect,
        allowed_cidrs=_tuple(li.allowed_cidrs),
        default_tls_container_ref=li.default_tls_container_ref,
        sni_container_refs=tuple(li.sni_container_refs or ()),
        client_authentication=li.client_authentication,
        client_ca_tls_container_ref=li.client_ca_tls_container_ref,
        client_crl_container_ref=li.client_crl_container_ref,
        tls_ciphers=li.tls_ciphers,
        tls_versions=_tuple(li.tls_versions),
        alpn_protocols=_tuple(li.alpn_protocols),
        hsts_max_age=li.hsts_max_age,
        hsts_include_subdomains=li.hsts_include_subdomains,
        hsts_preload=li.hsts_preload,
    )


def amphora_spec(a: Amphora) -> AmphoraSpec:
    return AmphoraSpec(
        id=a.id,
        role=a.role or "STANDALONE",
        vrrp_ip=a.vrrp_ip,
        vrrp_priority=a.vrrp_priority,
        vrrp_interface=a.vrrp_interface,
        vrrp_id=a.vrrp_id,
        lb_network_ip=a.lb_network_ip,
        ha_ip=a.ha_ip,
        host=a.host,
    )


def lb_spec(lb: LoadBalancer) -> LoadBalancerSpec:
    """``lb`` must be loaded with its whole graph (``portus.db.graph.load_lb_graph``)."""
    live_pools = [p for p in lb.pools if _live(p)]
    live_pool_ids = {p.id for p in live_pools}
    listeners = []
    for li in lb.listeners:
        if not _live(li):
            continue
        spec = listener_spec(li)
        if spec.default_pool_id not in live_pool_ids:
            spec = replace(spec, default_pool_id=None)
        listeners.append(spec)
    return LoadBalancerSpec(
        id=lb.id,
        project_id=lb.project_id,
        vip_address=lb.vip_address or "",
        name=lb.name,
        admin_state_up=lb.admin_state_up,
        additional_vips=tuple(
            v["ip_address"] for v in (lb.additional_vips or []) if v.get("ip_address")
        ),
        topology=lb.topology,
        listeners=tuple(listeners),
        pools=tuple(pool_spec(p) for p in live_pools),
        amphorae=tuple(
            amphora_spec(a) for a in lb.amphorae if a.status not in ("DELETED", "PENDING_DELETE")
        ),
    )
