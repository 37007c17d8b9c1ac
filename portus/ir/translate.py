"""Desired state of one LB -> the IR of one of its amphorae (pure).

What is rendered at all:

* A disabled LB renders no proxies, services or filters (keepalived still runs so the VIP pair
  stays consistent).
* Disabled listeners and pools are skipped; a listener whose default pool is missing, disabled
  or of an L4 protocol gets no ``default_backend`` (HAProxy answers 503 / closes).
* UDP and SCTP listeners go to nftables (``portus.ir.l4``), never HAProxy.
* PROMETHEUS listeners serve HAProxy's built-in ``prometheus-exporter`` on ``/metrics``
  (404 elsewhere) and take no pool or L7 policy.
* TERMINATED_HTTPS listeners terminate TLS with the certificates shipped into the cert dir
  (``portus.ir.tls``); one without any certificate ref is skipped with a note.
* ``insert_headers``: X-Forwarded-For (``option forwardfor``), X-Forwarded-Port,
  X-Forwarded-Proto, and also X-Real-IP, X-Client-IP, X-Forwarded-IP (client address), which
  Octavia accepts but never renders. Values are enabled by the string ``"true"``.
* L7 policies: see ``portus.ir.l7``.
"""

from __future__ import annotations

from dataclasses import replace

from portus.ir.backend import backend_name, connection_limit, listener_mode, translate_backend
from portus.ir.desired import (
    AmphoraLayout,
    AmphoraSpec,
    ListenerSpec,
    LoadBalancerSpec,
    PoolSpec,
    RenderOptions,
)
from portus.ir.l4 import translate_allowed_cidrs, translate_l4
from portus.ir.l7 import policy_order, translate_policy
from portus.ir.model import (
    AclIR,
    AllowedCidrsIR,
    AmphoraIR,
    BackendIR,
    BindIR,
    FrontendIR,
    GlobalIR,
    HeaderIR,
    L4ServiceIR,
    L7ActionIR,
    PeerIR,
    PeersIR,
    VrrpIR,
)
from portus.ir.net import family
from portus.ir.tls import frontend_tls, ssl_headers

L4_LISTENERS = ("UDP", "SCTP")
HAPROXY_POOL_PROTOCOLS = ("HTTP", "HTTPS", "TCP", "PROXY", "PROXYV2")
MIN_GLOBAL_MAXCONN = 2000
_CLIENT_ADDRESS_HEADERS = ("X-Real-IP", "X-Client-IP", "X-Forwarded-IP")


def _enabled(header_value: str) -> bool:
    return header_value.strip().lower() == "true"


def _headers(listener: ListenerSpec) -> tuple[bool, tuple[HeaderIR, ...]]:
    """(forwardfor, set-header rules) for a listener's ``insert_headers``."""
    wanted = {k.lower(): v for k, v in listener.insert_headers}
    forwardfor = _enabled(wanted.get("x-forwarded-for", ""))
    headers: list[HeaderIR] = []
    if _enabled(wanted.get("x-forwarded-port", "")):
        headers.append(HeaderIR("X-Forwarded-Port", "%[dst_port]"))
    if _enabled(wanted.get("x-forwarded-proto", "")):
        proto = "https" if listener.protocol == "TERMINATED_HTTPS" else "http"
        headers.append(HeaderIR("X-Forwarded-Proto", proto))
    for name in _CLIENT_ADDRESS_HEADERS:
        if _enabled(wanted.get(name.lower(), "")):
            headers.append(HeaderIR(name, "%[src]"))
    return forwardfor, tuple(headers)


def _vips(lb: LoadBalancerSpec) -> tuple[str, ...]:
    return (lb.vip_address, *lb.additional_vips)


def _usable_pool(pools: dict[str, PoolSpec], pool_id: str | None) -> PoolSpec | None:
    pool = pools.get(pool_id or "")
    if pool is None or not pool.admin_state_up or pool.protocol not in HAPROXY_POOL_PROTOCOLS:
        return None
    return pool


def _peers(lb: LoadBalancerSpec, amphora: AmphoraSpec, options: RenderOptions) -> PeersIR | None:
    """A peers section for ACTIVE_STANDBY, when every amphora has a VRRP address."""
    if lb.topology != "ACTIVE_STANDBY" or amphora.vrrp_ip is None:
        return None
    amps = sorted(lb.amphorae, key=lambda a: a.id)
    if not amps or any(a.vrrp_ip is None for a in amps):
        return None
    return PeersIR(
        name=lb.id.replace("-", "") + "_peers",
        peers=tuple(PeerIR(a.id, a.vrrp_ip or "", options.peer_port) for a in amps),
    )


def _frontend(
    lb: LoadBalancerSpec,
    listener: ListenerSpec,
    pools: dict[str, PoolSpec],
    layout: AmphoraLayout,
    options: RenderOptions,
    peers: str | None,
    notes: list[str],
) -> tuple[FrontendIR, list[BackendIR]]:
    base = FrontendIR(
        name=listener.id,
        listener_id=listener.id,
        protocol=listener.protocol,
        mode=listener_mode(listener),
        binds=tuple(BindIR(v, listener.protocol_port) for v in _vips(lb)),
        maxconn=connection_limit(listener),
        timeout_client_ms=listener.timeout_client_data,
        tcp_inspect_delay_ms=listener.timeout_tcp_inspect,
        forwardfor=False,
        headers=(),
        acls=(),
        actions=(),
        default_backend=None,
        prometheus=listener.protocol == "PROMETHEUS",
    )
    if base.prometheus:
        return base, []
    used: dict[str, PoolSpec] = {}
    default_pool = _usable_pool(pools, listener.default_pool_id)
    if listener.default_pool_id and default_pool is None:
        notes.append(
            f"listener {listener.id}: default pool {listener.default_pool_id} missing, "
            "disabled or not HAProxy-served; no default_backend"
        )
    if default_pool is not None:
        used[default_pool.id] = default_pool
    candidates = {
        pid: backend_name(pid, listener.id) for pid in pools if _usable_pool(pools, pid) is not None
    }
    acls: list[AclIR] = []
    actions: list[L7ActionIR] = []
    if base.mode == "http":
        for policy in policy_order(listener.l7policies):
            result = translate_policy(policy, candidates)
            if isinstance(result, str):
                notes.append(result)
                continue
            action, policy_acls = result
            actions.append(action)
            acls.extend(policy_acls)
            if action.kind == "use_backend" and policy.redirect_pool_id:
                used[policy.redirect_pool_id] = pools[policy.redirect_pool_id]
    elif listener.l7policies:
        notes.append(f"listener {listener.id}: L7 policies need an HTTP listener, ignored")
    forwardfor, headers = _headers(listener) if base.mode == "http" else (False, ())
    headers += ssl_headers(listener)
    fe = replace(
        base,
        forwardfor=forwardfor,
        headers=headers,
        acls=tuple(acls),
        actions=tuple(actions),
        default_backend=backend_name(default_pool.id, listener.id) if default_pool else None,
        tls=frontend_tls(listener, layout),
    )
    backends = [
        translate_backend(pool, listener, layout, options, peers, notes) for pool in used.values()
    ]
    return fe, backends


def _vrrp(
    lb: LoadBalancerSpec, amphora: AmphoraSpec, layout: AmphoraLayout, options: RenderOptions
) -> VrrpIR | None:
    if lb.topology != "ACTIVE_STANDBY" or amphora.role not in ("MASTER", "BACKUP"):
        return None
    if amphora.vrrp_ip is None or amphora.vrrp_interface is None:
        return None
    fam = family(amphora.vrrp_ip)
    vips = _vips(lb)
    default_priority = 100 if amphora.role == "MASTER" else 90
    return VrrpIR(
        name=lb.id.replace("-", ""),
        interface=amphora.vrrp_interface,
        virtual_router_id=amphora.vrrp_id or 1,
        priority=amphora.vrrp_priority or default_priority,
        advert_int=options.vrrp_advert_int,
        unicast_src_ip=amphora.vrrp_ip,
        unicast_peers=tuple(
            sorted(a.vrrp_ip for a in lb.amphorae if a.id != amphora.id and a.vrrp_ip)
        ),
        vips=tuple(v for v in vips if family(v) == fam),
        vips_excluded=tuple(v for v in vips if family(v) != fam),
        check_script=layout.haproxy_check_script,
        check_interval=options.vrrp_check_interval,
    )


def _listener_order(listener: ListenerSpec) -> tuple[int, str, str]:
    return (listener.protocol_port, listener.protocol, listener.id)


def translate(
    lb: LoadBalancerSpec,
    amphora: AmphoraSpec,
    layout: AmphoraLayout,
    options: RenderOptions | None = None,
) -> AmphoraIR:
    """The complete IR for ``amphora`` of ``lb`` (pure: same inputs, same IR)."""
    opts = options or RenderOptions()
    notes: list[str] = []
    pools = {p.id: p for p in lb.pools}
    peers = _peers(lb, amphora, opts)
    peers_name = peers.name if peers else None
    frontends: list[FrontendIR] = []
    backends: dict[str, BackendIR] = {}
    l4: list[L4ServiceIR] = []
    allowed: list[AllowedCidrsIR] = []
    listeners = sorted(lb.listeners, key=_listener_order) if lb.admin_state_up else []
    if not lb.admin_state_up:
        notes.append(f"loadbalancer {lb.id}: disabled, nothing rendered")
    for listener in listeners:
        if not listener.admin_state_up:
            notes.append(f"listener {listener.id}: disabled, not rendered")
            continue
        if listener.protocol == "TERMINATED_HTTPS" and frontend_tls(listener, layout) is None:
            notes.append(f"listener {listener.id}: TERMINATED_HTTPS without a certificate")
            continue
        allowed.extend(translate_allowed_cidrs(listener, _vips(lb)))
        if listener.protocol in L4_LISTENERS:
            pool = pools.get(listener.default_pool_id or "")
            if pool is None or not pool.admin_state_up or pool.protocol != listener.protocol:
                notes.append(f"listener {listener.id}: no enabled {listener.protocol} pool")
                continue
            l4.extend(translate_l4(listener, pool, _vips(lb), layout))
            continue
        fe, fe_backends = _frontend(lb, listener, pools, layout, opts, peers_name, notes)
        frontends.append(fe)
        for be in fe_backends:
            backends[be.name] = be
    maxconn = sum(fe.maxconn for fe in frontends)
    global_ = GlobalIR(
        maxconn=max(MIN_GLOBAL_MAXCONN, min(opts.maxconn_cap, maxconn)),
        nbthread=opts.nbthread,
        tune_bufsize=opts.tune_bufsize,
        runtime_socket=layout.runtime_socket,
        server_state_file=layout.server_state_file,
        external_check=any(
            be.health is not None and be.health.external_command for be in backends.values()
        ),
        localpeer=amphora.id if peers else None,
        log_target=opts.log_target,
    )
    return AmphoraIR(
        lb_id=lb.id,
        amphora_id=amphora.id,
        layout=layout,
        global_=global_,
        peers=peers,
        frontends=tuple(frontends),
        backends=tuple(sorted(backends.values(), key=lambda b: b.name)),
        l4_services=tuple(l4),
        allowed_cidrs=tuple(allowed),
        vrrp=_vrrp(lb, amphora, layout, opts),
        notes=tuple(notes),
    )


__all__ = ["translate"]
