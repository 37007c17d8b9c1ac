"""Listener bodies; ``ListenerSingleCreate`` is a listener inside a fully populated LB create."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from portus import constants as c
from portus.api.schemas.common import Body, Cidr, Description, IdRef, Name, Port, ProjectId, Tag
from portus.api.schemas.l7policy import L7PolicySingleCreate
from portus.api.schemas.member import parse_body
from portus.api.schemas.pool import CIPHERS, Alpn, TlsVersion
from portus.service import graph

ListenerProtocol = Literal["HTTP", "HTTPS", "TCP", "TERMINATED_HTTPS", "UDP", "SCTP", "PROMETHEUS"]
ClientAuth = Literal["NONE", "OPTIONAL", "MANDATORY"]
Timeout = Annotated[int, Field(ge=0, le=c.MAX_TIMEOUT)]
Ref = Annotated[str, Field(max_length=255)]
HeaderValue = Annotated[str, Field(max_length=255)]


class _ListenerMutable(Body):
    name: Name | None = None
    description: Description | None = None
    admin_state_up: bool | None = True
    connection_limit: int | None = Field(default=None, ge=-1)
    default_pool_id: IdRef | None = None
    insert_headers: dict[str, HeaderValue] | None = None
    timeout_client_data: Timeout | None = None
    timeout_member_connect: Timeout | None = None
    timeout_member_data: Timeout | None = None
    timeout_tcp_inspect: Timeout | None = None
    default_tls_container_ref: Ref | None = None
    sni_container_refs: list[Ref] | None = None
    client_authentication: ClientAuth | None = None
    client_ca_tls_container_ref: Ref | None = None
    client_crl_container_ref: Ref | None = None
    allowed_cidrs: list[Cidr] | None = None
    tls_ciphers: str | None = Field(default=None, max_length=2048, pattern=CIPHERS)
    tls_versions: list[TlsVersion] | None = Field(default=None, min_length=1)
    alpn_protocols: list[Alpn] | None = Field(default=None, min_length=1)
    hsts_max_age: int | None = Field(default=None, ge=0)
    hsts_include_subdomains: bool | None = None
    hsts_preload: bool | None = None
    tags: list[Tag] | None = None


class ListenerSingleCreate(_ListenerMutable):
    project_id: ProjectId | None = None
    tenant_id: ProjectId | None = None
    protocol: ListenerProtocol
    protocol_port: Port
    # Graph create only: a pool (or a by-name reference to one of the LB's ``pools``) and
    # L7 policies; both are validated by their own schemas when the graph is built.
    default_pool: dict[str, Any] | None = None
    l7policies: list[dict[str, Any]] | None = None


class ListenerCreate(ListenerSingleCreate):
    loadbalancer_id: IdRef


class ListenerUpdate(_ListenerMutable):
    admin_state_up: bool | None = None


class ListenerCreateBody(Body):
    listener: ListenerCreate


class ListenerUpdateBody(Body):
    listener: ListenerUpdate


graph.register_parser("listener", lambda raw: parse_body(ListenerSingleCreate, raw, "listener"))
graph.register_parser("l7policy", lambda raw: parse_body(L7PolicySingleCreate, raw, "l7policy"))
