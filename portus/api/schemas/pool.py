"""Pool bodies; ``PoolSingleCreate`` is a pool inside a fully populated LB create."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from portus.api.schemas.common import Body, Description, IdRef, Name, ProjectId, Tag
from portus.api.schemas.healthmonitor import HealthMonitorSingleCreate
from portus.api.schemas.member import parse_body
from portus.service import graph

PoolProtocol = Literal["HTTP", "HTTPS", "PROXY", "PROXYV2", "TCP", "UDP", "SCTP"]
Algorithm = Literal["ROUND_ROBIN", "LEAST_CONNECTIONS", "SOURCE_IP", "SOURCE_IP_PORT"]
PersistenceType = Literal["SOURCE_IP", "HTTP_COOKIE", "APP_COOKIE"]
TlsVersion = Literal["SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]
Alpn = Literal["h2", "http/1.1", "http/1.0"]
CIPHERS = r"^[A-Za-z0-9\-+!:@=_.]*$"


class SessionPersistence(Body):
    type: PersistenceType
    cookie_name: str | None = Field(default=None, max_length=255)
    persistence_timeout: int | None = Field(default=None, ge=0)
    persistence_granularity: str | None = Field(default=None, max_length=64)


class SessionPersistenceUpdate(SessionPersistence):
    """On PUT the type may be left out: the stored type is kept."""

    type: PersistenceType | None = None  # type: ignore[assignment]


class _PoolTls(Body):
    tls_enabled: bool | None = False
    tls_container_ref: str | None = Field(default=None, max_length=255)
    ca_tls_container_ref: str | None = Field(default=None, max_length=255)
    crl_container_ref: str | None = Field(default=None, max_length=255)
    tls_ciphers: str | None = Field(default=None, max_length=2048, pattern=CIPHERS)
    tls_versions: list[TlsVersion] | None = Field(default=None, min_length=1)
    alpn_protocols: list[Alpn] | None = Field(default=None, min_length=1)


class PoolSingleCreate(_PoolTls):
    name: Name | None = None
    description: Description | None = None
    admin_state_up: bool | None = True
    project_id: ProjectId | None = None
    tenant_id: ProjectId | None = None
    protocol: PoolProtocol
    lb_algorithm: Algorithm
    session_persistence: SessionPersistence | None = None
    healthmonitor: dict[str, Any] | None = None
    members: list[dict[str, Any]] | None = None
    tags: list[Tag] | None = None


class PoolCreate(PoolSingleCreate):
    loadbalancer_id: IdRef | None = None
    listener_id: IdRef | None = None


class PoolUpdate(_PoolTls):
    name: Name | None = None
    description: Description | None = None
    admin_state_up: bool | None = None
    lb_algorithm: Algorithm | None = None
    session_persistence: SessionPersistenceUpdate | None = None
    tls_enabled: bool | None = None
    tags: list[Tag] | None = None


class PoolCreateBody(Body):
    pool: PoolCreate


class PoolUpdateBody(Body):
    pool: PoolUpdate


graph.register_parser("pool", lambda raw: parse_body(PoolSingleCreate, raw, "pool"))
graph.register_parser(
    "healthmonitor", lambda raw: parse_body(HealthMonitorSingleCreate, raw, "healthmonitor")
)
