"""The desired state of one load balancer, as the translator's input.

These frozen dataclasses mirror the Octavia v2 API objects field for field (same names, same
meanings, API defaults) so that the DB layer can fill them without a mapping table and tests can
build them by hand. Collections are tuples so a whole graph is immutable and hashable; API dicts
become small dataclasses (``SessionPersistenceSpec``) or sorted key/value tuples
(``insert_headers``). Nothing here knows about the database or the data plane.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from portus import constants


def frozen_items(mapping: Mapping[str, str] | None) -> tuple[tuple[str, str], ...]:
    """A dict as a sorted tuple of pairs, the form ``insert_headers`` takes here."""
    return tuple(sorted((mapping or {}).items()))


@dataclass(frozen=True)
class L7RuleSpec:
    id: str
    type: str
    compare_type: str
    value: str
    key: str | None = None
    invert: bool = False
    admin_state_up: bool = True


@dataclass(frozen=True)
class L7PolicySpec:
    id: str
    action: str
    position: int = 1
    rules: tuple[L7RuleSpec, ...] = ()
    redirect_pool_id: str | None = None
    redirect_url: str | None = None
    redirect_prefix: str | None = None
    redirect_http_code: int | None = None
    admin_state_up: bool = True
    name: str | None = None


@dataclass(frozen=True)
class HealthMonitorSpec:
    id: str
    type: str
    delay: int
    timeout: int
    max_retries: int
    max_retries_down: int = 3
    http_method: str | None = None
    url_path: str | None = None
    expected_codes: str | None = None
    http_version: float | None = None
    domain_name: str | None = None
    admin_state_up: bool = True
    name: str | None = None


@dataclass(frozen=True)
class MemberSpec:
    id: str
    address: str
    protocol_port: int
    weight: int = 1
    backup: bool = False
    monitor_address: str | None = None
    monitor_port: int | None = None
    admin_state_up: bool = True
    subnet_id: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class SessionPersistenceSpec:
    """The API's ``session_persistence`` object (a dict there, a value object here)."""

    type: str
    cookie_name: str | None = None
    persistence_timeout: int | None = None
    persistence_granularity: str | None = None

    @classmethod
    def from_api(cls, value: Mapping[str, Any] | None) -> SessionPersistenceSpec | None:
        """Build from the API/DB dict; ``None`` or an empty dict means no persistence."""
        if not value or not value.get("type"):
            return None
        return cls(
            type=str(value["type"]),
            cookie_name=value.get("cookie_name"),
            persistence_timeout=value.get("persistence_timeout"),
            persistence_granularity=value.get("persistence_granularity"),
        )


@dataclass(frozen=True)
class PoolSpec:
    id: str
    protocol: str
    lb_algorithm: str
    members: tuple[MemberSpec, ...] = ()
    healthmonitor: HealthMonitorSpec | None = None
    session_persistence: SessionPersistenceSpec | None = None
    admin_state_up: bool = True
    name: str | None = None
    tls_enabled: bool = False
    tls_container_ref: str | None = None
    ca_tls_container_ref: str | None = None
    crl_container_ref: str | None = None
    tls_ciphers: str | None = None
    tls_versions: tuple[str, ...] | None = None
    alpn_protocols: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ListenerSpec:
    id: str
    protocol: str
    protocol_port: int
    admin_state_up: bool = True
    name: str | None = None
    connection_limit: int = -1
    default_pool_id: str | None = None
    l7policies: tuple[L7PolicySpec, ...] = ()
    insert_headers: tuple[tuple[str, str], ...] = ()
    timeout_client_data: int = constants.DEFAULT_TIMEOUT_CLIENT_DATA
    timeout_member_connect: int = constants.DEFAULT_TIMEOUT_MEMBER_CONNECT
    timeout_member_data: int = constants.DEFAULT_TIMEOUT_MEMBER_DATA
    timeout_tcp_inspect: int = constants.DEFAULT_TIMEOUT_TCP_INSPECT
    allowed_cidrs: tuple[str, ...] | None = None
    default_tls_container_ref: str | None = None
    sni_container_refs: tuple[str, ...] = ()
    client_authentication: str = "NONE"
    client_ca_tls_container_ref: str | None = None
    client_crl_container_ref: str | None = None
    tls_ciphers: str | None = None
    tls_versions: tuple[str, ...] | None = None
    alpn_protocols: tuple[str, ...] | None = None
    hsts_max_age: int | None = None
    hsts_include_subdomains: bool = False
    hsts_preload: bool = False


@dataclass(frozen=True)
class AmphoraSpec:
    """One amphora of the LB. ``vrrp_*`` matter only for ACTIVE_STANDBY."""

    id: str
    role: str = "STANDALONE"  # MASTER / BACKUP / STANDALONE
    vrrp_ip: str | None = None
    vrrp_priority: int | None = None
    vrrp_interface: str | None = None
    vrrp_id: int | None = None
    lb_network_ip: str | None = None
    ha_ip: str | None = None
    host: str | None = None


@dataclass(frozen=True)
class LoadBalancerSpec:
    id: str
    project_id: str
    vip_address: str
    name: str | None = None
    admin_state_up: bool = True
    additional_vips: tuple[str, ...] = ()
    topology: str = "SINGLE"
    listeners: tuple[ListenerSpec, ...] = ()
    pools: tuple[PoolSpec, ...] = ()
    amphorae: tuple[AmphoraSpec, ...] = ()


@dataclass(frozen=True)
class AmphoraLayout:
    """Where an amphora's runtime files live (the agent creates the directory).

    Passed into translation so a render is a pure function of its inputs: the same layout gives
    the same bytes, and tests can point everything at a temporary directory.
    """

    state_dir: str
    runtime_socket: str
    master_socket: str
    server_state_file: str
    pid_file: str
    cert_dir: str
    haproxy_check_script: str
    ping_script: str

    @classmethod
    def for_state_dir(cls, state_dir: str) -> AmphoraLayout:
        """The standard layout below one directory per amphora."""
        base = PurePosixPath(state_dir)
        return cls(
            state_dir=str(base),
            runtime_socket=str(base / "haproxy.sock"),
            master_socket=str(base / "haproxy-master.sock"),
            server_state_file=str(base / "haproxy.state"),
            pid_file=str(base / "haproxy.pid"),
            cert_dir=str(base / "certs"),
            haproxy_check_script=str(base / "check-haproxy.sh"),
            ping_script=str(base / "ping-check.sh"),
        )


@dataclass(frozen=True)
class RenderOptions:
    """Operator/flavor knobs that are not part of the Octavia objects.

    Defaults follow the measurements in dataplane.md §6 for this class of machine.
    """

    nbthread: int = 1
    tune_bufsize: int = 65536
    # HAProxy needs ~2 fds per connection and refuses to start above its fd limit (20000 on
    # the reference hosts); raise this per flavor where `ulimit -n` allows.
    maxconn_cap: int = 8000
    http_reuse: str = "always"
    stick_table_size: str = "10k"
    vrrp_advert_int: float = 0.2
    vrrp_check_interval: int = 1
    peer_port: int = 1025
    log_target: str | None = None  # e.g. "/dev/log local0"; None renders no logging
