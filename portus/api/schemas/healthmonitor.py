"""Health monitor bodies.

``HealthMonitorSingleCreate`` is the pool-less shape the fully populated LB create nests inside a
pool; ``HealthMonitorCreate`` adds ``pool_id`` (optional here so graph create can reuse the model;
the POST route insists on it).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field

from portus.api.schemas.common import Body, IdRef, Name, ProjectId, Tag

HMType = Literal["HTTP", "HTTPS", "PING", "TCP", "TLS-HELLO", "UDP-CONNECT", "SCTP"]
HttpMethod = Literal["GET", "HEAD", "POST", "PUT", "DELETE", "TRACE", "OPTIONS", "CONNECT", "PATCH"]
Retries = Annotated[int, Field(ge=1, le=10)]
Seconds = Annotated[int, Field(ge=0, le=2147483647)]

# "200", "200,202", "200-204": three-digit codes, a list or one range.
EXPECTED_CODES = r"^(\d{3}(\s*,\s*\d{3})*|\d{3}-\d{3})$"
HOSTNAME = re.compile(
    r"^(?=.{1,255}$)(?!-)[A-Za-z0-9_-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9_-]{1,63}(?<!-))*\.?$"
)


def _url_path(value: str) -> str:
    parts = urlsplit(value)
    if (
        not value.startswith("/")
        or parts.scheme
        or parts.netloc
        or any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value)
    ):
        raise ValueError("Value should be a URL path starting with '/'")
    return value


def _http_version(value: float) -> float:
    if value not in (1.0, 1.1):
        raise ValueError("Value should be one of: 1.0, 1.1")
    return value


def _domain_name(value: str) -> str:
    if not HOSTNAME.match(value):
        raise ValueError("Value should be a valid RFC 1123 host name")
    return value


UrlPath = Annotated[str, Field(max_length=2048), AfterValidator(_url_path)]
ExpectedCodes = Annotated[str, Field(max_length=64, pattern=EXPECTED_CODES)]
HttpVersion = Annotated[float, AfterValidator(_http_version)]
DomainName = Annotated[str, Field(max_length=255), AfterValidator(_domain_name)]


class HealthMonitorSingleCreate(Body):
    name: Name | None = None
    admin_state_up: bool | None = True
    type: HMType
    delay: Seconds
    timeout: Seconds
    max_retries: Retries
    max_retries_down: Retries | None = None
    http_method: HttpMethod | None = None
    url_path: UrlPath | None = None
    expected_codes: ExpectedCodes | None = None
    http_version: HttpVersion | None = None
    domain_name: DomainName | None = None
    tags: list[Tag] | None = None
    project_id: ProjectId | None = None
    tenant_id: ProjectId | None = None


class HealthMonitorCreate(HealthMonitorSingleCreate):
    pool_id: IdRef | None = None


class HealthMonitorUpdate(Body):
    name: Name | None = None
    admin_state_up: bool | None = None
    delay: Seconds | None = None
    timeout: Seconds | None = None
    max_retries: Retries | None = None
    max_retries_down: Retries | None = None
    http_method: HttpMethod | None = None
    url_path: UrlPath | None = None
    expected_codes: ExpectedCodes | None = None
    http_version: HttpVersion | None = None
    domain_name: DomainName | None = None
    tags: list[Tag] | None = None


class HealthMonitorCreateBody(Body):
    healthmonitor: HealthMonitorCreate


class HealthMonitorUpdateBody(Body):
    healthmonitor: HealthMonitorUpdate
