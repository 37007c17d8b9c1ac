"""The intermediate representation (IR) of one amphora's data plane.

The IR sits between the tenant's desired state and the rendered files: every *decision* (what is
enabled, which backend a policy targets, how a health monitor maps to checks, how weights become
nftables slots) is taken by ``translate``; the renderers only spell the IR out. So the IR is
close to HAProxy / nftables / keepalived vocabulary, but holds no config syntax beyond the small
HAProxy sample expressions (fetches, header values) that have no better structured form.

Naming conventions the rest of Portus relies on:

* HAProxy frontend name = listener id.
* HAProxy backend name = ``<pool_id>:<listener_id>`` (one backend per pool *per listener using
  it*, because member timeouts and mode are listener properties). Heartbeats key pools the
  same way, as Octavia does.
* HAProxy server name = member id.
* nftables: one table ``inet portus``; one map per (UDP/SCTP listener, address family) named
  ``pool_<pool>_<listener>_<4|6>`` (ids with non-alphanumerics replaced by ``_``).
* keepalived: one ``vrrp_instance`` named after the LB id without dashes.
"""

from __future__ import annotations

from dataclasses import dataclass

from portus.ir.desired import AmphoraLayout


@dataclass(frozen=True)
class PeerIR:
    name: str
    address: str
    port: int


@dataclass(frozen=True)
class PeersIR:
    """HAProxy ``peers`` section so stick tables survive an ACTIVE_STANDBY failover."""

    name: str
    peers: tuple[PeerIR, ...]


@dataclass(frozen=True)
class GlobalIR:
    maxconn: int
    nbthread: int
    tune_bufsize: int
    runtime_socket: str
    server_state_file: str
    external_check: bool
    localpeer: str | None
    log_target: str | None


@dataclass(frozen=True)
class BindIR:
    address: str
    port: int


@dataclass(frozen=True)
class AclIR:
    """``acl <name> <fetch> <flags...> <value>``; value ``None`` means a boolean fetch."""

    name: str
    fetch: str
    flags: tuple[str, ...]
    value: str | None


@dataclass(frozen=True)
class ConditionIR:
    acl: str
    negate: bool


@dataclass(frozen=True)
class L7ActionIR:
    """One enabled L7 policy, in position order; conditions are ANDed.

    ``kind`` is ``deny``, ``redirect_location``, ``redirect_prefix`` or ``use_backend``;
    ``target`` is the URL, prefix or backend name.
    """

    policy_id: str
    position: int
    kind: str
    target: str | None
    code: int | None
    conditions: tuple[ConditionIR, ...]


@dataclass(frozen=True)
class HeaderIR:
    """``http-request set-header <name> <value>``; value is a HAProxy log-format string."""

    name: str
    value: str


@dataclass(frozen=True)
class FrontendTlsIR:
    """TLS termination of a TERMINATED_HTTPS frontend (see ``portus.ir.tls``).

    ``versions`` is (min, max) in HAProxy names; ``verify`` is none/optional/required;
    ``hsts`` the Strict-Transport-Security value, if any.
    """

    crt_list: str
    ca_file: str | None
    crl_file: str | None
    verify: str
    ciphers: str | None
    versions: tuple[str, ...]
    alpn: tuple[str, ...]
    hsts: str | None = None


@dataclass(frozen=True)
class FrontendIR:
    name: str
    listener_id: str
    protocol: str
    mode: str
    binds: tuple[BindIR, ...]
    maxconn: int
    timeout_client_ms: int
    tcp_inspect_delay_ms: int
    forwardfor: bool
    headers: tuple[HeaderIR, ...]
    acls: tuple[AclIR, ...]
    actions: tuple[L7ActionIR, ...]
    default_backend: str | None
    prometheus: bool
    tls: FrontendTlsIR | None = None


@dataclass(frozen=True)
class HealthCheckIR:
    """A health monitor as checks: HAProxy server checks, or the agent's UDP/SCTP checker.

    ``kind`` is the monitor type. ``expect`` is ``("status", "200")`` or
    ``("rstatus", "^(200|202)$")`` for HTTP(S).
    """

    kind: str
    inter_s: int
    timeout_s: int
    rise: int
    fall: int
    http_method: str | None
    url_path: str | None
    http_version: str | None
    host: str | None
    expect: tuple[str, str] | None
    check_ssl: bool
    external_command: str | None


@dataclass(frozen=True)
class ServerTlsIR:
    """Re-encryption to members (pool ``tls_enabled``)."""

    verify: str
    ca_file: str | None
    crl_file: str | None
    crt: str | None
    ciphers: str | None
    min_version: str | None  # HAProxy names: TLSv1.0 ... TLSv1.3
    max_version: str | None
    alpn: tuple[str, ...]
    sni: str | None = None  # a HAProxy sample expression, e.g. ``ssl_fc_sni``


@dataclass(frozen=True)
class ServerIR:
    name: str
    address: str
    port: int
    weight: int
    backup: bool
    enabled: bool
    check: bool
    check_address: str | None
    check_port: int | None
    check_ssl: bool
    send_proxy: str | None  # "send-proxy" / "send-proxy-v2"
    cookie: str | None
    tls: ServerTlsIR | None


@dataclass(frozen=True)
class PersistenceIR:
    """``kind``: SOURCE_IP (stick on src), HTTP_COOKIE (insert), APP_COOKIE (stick on cookie)."""

    kind: str
    cookie_name: str | None
    table_size: str
    peers: str | None


@dataclass(frozen=True)
class BackendIR:
    name: str
    pool_id: str
    listener_id: str
    mode: str
    balance: str
    hash_type: str | None
    source_port_hash: bool
    persistence: PersistenceIR | None
    health: HealthCheckIR | None
    servers: tuple[ServerIR, ...]
    timeout_connect_ms: int
    timeout_server_ms: int
    fullconn: int
    http_reuse: str | None
    dynamic_servers: bool  # False: adding/removing a server needs a reload (HTTP_COOKIE)


@dataclass(frozen=True)
class L4MemberIR:
    id: str
    address: str
    port: int
    weight: int
    backup: bool
    monitor_address: str | None
    monitor_port: int | None


@dataclass(frozen=True)
class L4ServiceIR:
    """A UDP/SCTP listener of one address family, balanced by DNAT through a named map.

    ``slots`` is the map's content: slot ``i`` -> (address, port); ``len(slots)`` is the
    modulus. A health checker keeps the modulus and re-points a dead member's slots at live
    members (``members`` carries what it needs), so no re-render is needed.
    """

    listener_id: str
    pool_id: str
    l4proto: str
    port: int
    family: str  # "ip" or "ip6"
    vips: tuple[str, ...]
    map_name: str
    selector: str  # "numgen inc" or "jhash ip saddr" / "jhash ip6 saddr"
    slots: tuple[tuple[str, int], ...]
    members: tuple[L4MemberIR, ...]
    health: HealthCheckIR | None


@dataclass(frozen=True)
class AllowedCidrsIR:
    """Traffic to ``vips``:``port``/``l4proto`` is accepted from ``cidrs`` only."""

    listener_id: str
    l4proto: str
    port: int
    family: str
    vips: tuple[str, ...]
    cidrs: tuple[str, ...]


@dataclass(frozen=True)
class VrrpIR:
    name: str
    interface: str
    virtual_router_id: int
    priority: int
    advert_int: float
    unicast_src_ip: str
    unicast_peers: tuple[str, ...]
    vips: tuple[str, ...]
    vips_excluded: tuple[str, ...]
    check_script: str
    check_interval: int


@dataclass(frozen=True)
class AmphoraIR:
    lb_id: str
    amphora_id: str
    layout: AmphoraLayout
    global_: GlobalIR
    peers: PeersIR | None
    frontends: tuple[FrontendIR, ...]
    backends: tuple[BackendIR, ...]
    l4_services: tuple[L4ServiceIR, ...]
    allowed_cidrs: tuple[AllowedCidrsIR, ...]
    vrrp: VrrpIR | None
    notes: tuple[str, ...]  # what was deliberately not rendered, and why
