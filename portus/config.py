"""Portus settings: one frozen object, read from the environment (``PORTUS_*``) and CLI flags.

Every process (api, controller, health, agent) takes the same settings so that tests can run
isolated instances side by side just by pointing them at different state directories and ports.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

DEFAULT_BIND = "127.0.0.1:9876"
DEFAULT_STATE_DIR = "/var/lib/portus"
DEFAULT_HEALTH_BIND = "127.0.0.1:5555"


@dataclass(frozen=True)
class SubnetConfig:
    """A subnet declared in config; the ``local`` network driver's whole world."""

    id: str
    name: str
    network_id: str
    network_name: str
    cidr: str
    gateway: str | None = None
    bridge: str = "portus-br0"
    uplink: str | None = None


def default_subnets() -> tuple[SubnetConfig, ...]:
    """The embedded default: one VIP network and subnet, both named (and id'd) ``public``."""
    return (
        SubnetConfig(
            id="public",
            name="public",
            network_id="public",
            network_name="public",
            cidr="10.255.0.0/24",
            gateway="10.255.0.1",
            bridge="portus-pub",
        ),
    )


@dataclass(frozen=True)
class QuotaDefaults:
    loadbalancer: int = -1
    listener: int = -1
    pool: int = -1
    healthmonitor: int = -1
    member: int = -1
    l7policy: int = -1
    l7rule: int = -1


@dataclass(frozen=True)
class Settings:
    bind: str = DEFAULT_BIND
    state_dir: Path = Path(DEFAULT_STATE_DIR)
    database_url: str | None = None
    provider: str = "amphora"
    auth_strategy: str = "noauth"
    default_project_id: str = "admin"
    keystone_auth_url: str | None = None
    keystone_config: dict[str, str] = field(default_factory=dict)
    pagination_max_limit: int = 1000
    # Replay unchanged GET responses while the database has not changed (SQLite only; D12).
    read_cache: bool = True
    quotas: QuotaDefaults = field(default_factory=QuotaDefaults)
    subnets: tuple[SubnetConfig, ...] = field(default_factory=default_subnets)
    lease_seconds: float = 15.0
    controller_poll_seconds: float = 0.2
    controller_workers: int = 4
    loadbalancer_topology: str = "SINGLE"
    log_level: str = "info"
    # Where amphorae run: the in-process agent (None) or a remote `portus agent` over mTLS.
    agent_url: str | None = None
    pki_dir: Path | None = None
    # More LB hosts: host name -> `portus agent` URL (same PKI). With any, amphorae are placed
    # across hosts (the two of an ACTIVE_STANDBY LB on different ones).
    agents: dict[str, str] = field(default_factory=dict)
    # Health and failover (portus.health, portus.agent.heartbeat); key None = generated and
    # kept in <state_dir>/heartbeat.key (one-host setups; set it for remote agents).
    heartbeat_key: str | None = None
    # Where the health process listens for heartbeats. None: 127.0.0.1:5555 for a separate
    # `portus health`, an ephemeral port for `portus up` (its in-process sender is told which),
    # so several embedded instances can run side by side.
    health_bind: str | None = None
    heartbeat_interval: float = 1.0
    heartbeat_timeout: float = 3.0  # 3 lost beats; host loss -> serving in < 5 s
    health_check_interval: float = 0.5
    failover_threshold: int | None = None
    vrrp_advert_int: float = 0.02  # host loss -> VIP moved in ~75 ms (docs/benchmarks.md)
    # Housekeeping (portus.housekeeping).
    spare_pool_size: int = 0
    deleted_expiry_seconds: float = 7 * 24 * 3600.0
    housekeeping_interval: float = 30.0
    cert_expiry_buffer_seconds: float = 14 * 24 * 3600.0
    # Tenant certificates (portus.db.secretstore): the built-in store ("local") or a Barbican
    # v1 endpoint ("barbican", with a token when it needs one). secret_key: Fernet key(s),
    # comma-separated, first encrypts; None = generated and kept in <state_dir>/secret.key.
    cert_backend: str = "local"
    barbican_endpoint: str | None = None
    barbican_token: str | None = None
    secret_key: str | None = None
    # Testing knobs of the noop provider (see portus.reconcile.providers.noop).
    noop_delay: float = 0.0
    noop_journal: str | None = None

    @property
    def host(self) -> str:
        return self.bind.rsplit(":", 1)[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.bind.rsplit(":", 1)[1])

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.state_dir / 'portus.db'}"

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def _quota_defaults(env: dict[str, str]) -> QuotaDefaults:
    values: dict[str, int] = {}
    for name in QuotaDefaults.__dataclass_fields__:
        raw = env.get(f"PORTUS_DEFAULT_{name.upper()}_QUOTA")
        if raw is not None:
            values[name] = int(raw)
    return QuotaDefaults(**values)


def _subnets(env: dict[str, str]) -> tuple[SubnetConfig, ...]:
    raw = env.get("PORTUS_SUBNETS")
    if not raw:
        return default_subnets()
    return tuple(SubnetConfig(**item) for item in json.loads(raw))


def from_env(env: dict[str, str] | None = None) -> Settings:
    """Settings from ``PORTUS_*`` variables; CLI flags are applied on top with ``with_``."""
    e = dict(os.environ if env is None else env)
    return Settings(
        bind=e.get("PORTUS_BIND", DEFAULT_BIND),
        state_dir=Path(e.get("PORTUS_STATE_DIR", DEFAULT_STATE_DIR)),
        database_url=e.get("PORTUS_DATABASE_URL") or None,
        provider=e.get("PORTUS_PROVIDER", "amphora"),
        auth_strategy=e.get("PORTUS_AUTH_STRATEGY", "noauth"),
        default_project_id=e.get("PORTUS_DEFAULT_PROJECT_ID", "admin"),
        keystone_auth_url=e.get("PORTUS_KEYSTONE_AUTH_URL") or None,
        keystone_config=json.loads(e.get("PORTUS_KEYSTONE_CONFIG", "{}")),
        pagination_max_limit=int(e.get("PORTUS_PAGINATION_MAX_LIMIT", "1000")),
        read_cache=e.get("PORTUS_READ_CACHE", "1").lower() not in ("0", "false", "no", "off"),
        quotas=_quota_defaults(e),
        subnets=_subnets(e),
        lease_seconds=float(e.get("PORTUS_LEASE_SECONDS", "15")),
        controller_poll_seconds=float(e.get("PORTUS_CONTROLLER_POLL_SECONDS", "0.2")),
        controller_workers=int(e.get("PORTUS_CONTROLLER_WORKERS", "4")),
        loadbalancer_topology=e.get("PORTUS_LOADBALANCER_TOPOLOGY", "SINGLE"),
        log_level=e.get("PORTUS_LOG_LEVEL", "info"),
        agent_url=e.get("PORTUS_AGENT_URL") or None,
        agents=json.loads(e.get("PORTUS_AGENTS", "{}")),
        pki_dir=Path(e["PORTUS_PKI_DIR"]) if e.get("PORTUS_PKI_DIR") else None,
        heartbeat_key=e.get("PORTUS_HEARTBEAT_KEY") or None,
        health_bind=e.get("PORTUS_HEALTH_BIND") or None,
        heartbeat_interval=float(e.get("PORTUS_HEARTBEAT_INTERVAL", "1")),
        heartbeat_timeout=float(e.get("PORTUS_HEARTBEAT_TIMEOUT", "3")),
        health_check_interval=float(e.get("PORTUS_HEALTH_CHECK_INTERVAL", "0.5")),
        failover_threshold=int(e["PORTUS_FAILOVER_THRESHOLD"])
        if e.get("PORTUS_FAILOVER_THRESHOLD")
        else None,
        vrrp_advert_int=float(e.get("PORTUS_VRRP_ADVERT_INT", "0.02")),
        spare_pool_size=int(e.get("PORTUS_SPARE_POOL_SIZE", "0")),
        deleted_expiry_seconds=float(e.get("PORTUS_DELETED_EXPIRY_SECONDS", str(7 * 24 * 3600))),
        housekeeping_interval=float(e.get("PORTUS_HOUSEKEEPING_INTERVAL", "30")),
        cert_expiry_buffer_seconds=float(
            e.get("PORTUS_CERT_EXPIRY_BUFFER_SECONDS", str(14 * 24 * 3600))
        ),
        cert_backend=e.get("PORTUS_CERT_BACKEND", "local").lower(),
        barbican_endpoint=e.get("PORTUS_BARBICAN_ENDPOINT") or None,
        barbican_token=e.get("PORTUS_BARBICAN_TOKEN") or None,
        secret_key=e.get("PORTUS_SECRET_KEY") or None,
        noop_delay=float(e.get("PORTUS_NOOP_DELAY", "0")),
        noop_journal=e.get("PORTUS_NOOP_JOURNAL") or None,
    )
