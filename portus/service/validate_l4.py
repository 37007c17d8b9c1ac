"""Pure validation rules of listeners, pools and members (Octavia's texts, no DB access).

Kept apart from the use cases so the rules can be read, and tested, as a list: each function
takes plain values (a protocol, a merged field dict) and raises the 400 the client should see.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from typing import Any

from portus import constants as c
from portus.service.errors import ApiError, ValidationFailure

TERMINATED_HTTPS = "TERMINATED_HTTPS"
PROMETHEUS = "PROMETHEUS"
L4_ONLY = ("UDP", "SCTP")

HTTP_HEADERS = (
    "X-Forwarded-For",
    "X-Forwarded-Port",
    "X-Forwarded-Proto",
    "X-Forwarded-IP",
    "X-Client-IP",
    "X-Real-IP",
)
SSL_HEADERS = (
    "X-SSL-Client-Verify",
    "X-SSL-Client-Has-Cert",
    "X-SSL-Client-DN",
    "X-SSL-Client-CN",
    "X-SSL-Issuer",
    "X-SSL-Client-SHA1",
    "X-SSL-Client-Not-Before",
    "X-SSL-Client-Not-After",
)
CERT_REF_FIELDS = (
    "default_tls_container_ref",
    "sni_container_refs",
    "client_ca_tls_container_ref",
    "client_crl_container_ref",
)
# Control characters, space and the separators RFC 6265 forbids in a cookie name.
BAD_COOKIE_NAME = re.compile(r'[\x00-\x20"(),/:;<=>?@\[\\\]{}\x7f]')
SP_DEFAULT_TIMEOUT = 360
SP_DEFAULT_GRANULARITY = "255.255.255.255"


class InvalidOption(ApiError):
    def __init__(self, value: Any, option: str) -> None:
        super().__init__(f"{value} is not a valid option for {option}")


def family(protocol: str) -> str:
    """The L4 family a listener port is unique within (TCP:80 and UDP:80 may coexist)."""
    return c.LISTENER_FAMILY.get(protocol, protocol)


def check_no_children(listener_protocol: str) -> None:
    if listener_protocol == PROMETHEUS:
        raise ApiError(f"Protocol {listener_protocol} listeners cannot have child objects.")


def check_pool_protocol(listener_protocol: str, pool_protocol: str) -> None:
    """A listener only sends traffic to pools of a protocol it can speak (Octavia's table)."""
    check_no_children(listener_protocol)
    if pool_protocol not in c.LISTENER_POOL_PROTOCOLS.get(listener_protocol, ()):
        raise ValidationFailure(
            f"The pool protocol '{pool_protocol}' is invalid while the listener protocol is "
            f"'{listener_protocol}'."
        )


def check_insert_headers(protocol: str, headers: Mapping[str, str] | None) -> None:
    if not headers:
        return
    keys = list(headers)
    unknown = [k for k in keys if k not in HTTP_HEADERS + SSL_HEADERS]
    if unknown:
        raise InvalidOption(dict(headers), "insert_headers")
    if protocol not in ("HTTP", TERMINATED_HTTPS):
        if protocol in L4_ONLY:
            raise ValidationFailure(
                f"{protocol} protocol listener does not support TLS or header insertion."
            )
        raise InvalidOption(keys, f"{protocol} protocol listener.")
    if protocol != TERMINATED_HTTPS:
        ssl = [k for k in keys if k in SSL_HEADERS]
        if ssl:
            raise InvalidOption(ssl, f"{protocol} protocol listener.")


def normalise_cidrs(cidrs: Iterable[str] | None) -> list[str] | None:
    """Canonical network form, first occurrence kept; empty means "allow all" (None)."""
    out: list[str] = []
    for raw in cidrs or ():
        text = str(ipaddress.ip_network(raw, strict=False))
        if text not in out:
            out.append(text)
    return out or None


def check_cidr_families(cidrs: Iterable[str] | None, vip_addresses: Iterable[str]) -> None:
    versions = {ipaddress.ip_address(a).version for a in vip_addresses if a}
    for cidr in cidrs or ():
        if versions and ipaddress.ip_network(cidr).version not in versions:
            raise ValidationFailure(
                f"CIDR {cidr} IP version incompatible with all VIPs IP version."
            )


def check_listener_tls(state: Mapping[str, Any]) -> None:
    """TLS, client-auth and HSTS rules on a listener's merged (create or PUT) field values."""
    protocol = state["protocol"]
    has_refs = any(state.get(f) for f in CERT_REF_FIELDS)
    if protocol in L4_ONLY and has_refs:
        raise ValidationFailure(
            f"{protocol} protocol listener does not support TLS or header insertion."
        )
    if has_refs and protocol not in (TERMINATED_HTTPS, PROMETHEUS):
        raise ValidationFailure(
            f"Certificate container references are not allowed on {protocol} protocol listeners."
        )
    if protocol == TERMINATED_HTTPS and not (
        state.get("default_tls_container_ref") or state.get("sni_container_refs")
    ):
        raise ValidationFailure(
            "An SNI or default certificate container reference must be provided for "
            "TERMINATED_HTTPS protocol listeners."
        )
    auth = state.get("client_authentication") or "NONE"
    if auth != "NONE" and not state.get("client_ca_tls_container_ref"):
        raise ValidationFailure(
            f"Client authentication setting {auth} requires a client CA container reference."
        )
    if state.get("client_crl_container_ref") and not state.get("client_ca_tls_container_ref"):
        raise ValidationFailure(
            "A client authentication CA reference is required to specify a client "
            "authentication revocation list."
        )
    if state.get("hsts_max_age") is not None and protocol != TERMINATED_HTTPS:
        raise ValidationFailure(
            "The HSTS feature can only be used for listeners using the TERMINATED_HTTPS protocol."
        )
    if (state.get("hsts_include_subdomains") or state.get("hsts_preload")) and state.get(
        "hsts_max_age"
    ) is None:
        raise ValidationFailure(
            "HSTS configuration options hsts_include_subdomains and hsts_preload only make "
            "sense if hsts_max_age is set as well."
        )


def terminates_tls(state: Mapping[str, Any]) -> bool:
    return state["protocol"] == TERMINATED_HTTPS or bool(
        state["protocol"] == PROMETHEUS and state.get("default_tls_container_ref")
    )


def tls_defaults(state: dict[str, Any], enabled: bool) -> None:
    """Fill unset TLS ciphers/versions/ALPN with the defaults, only where TLS is in use."""
    if not enabled:
        return
    if not state.get("tls_ciphers"):
        state["tls_ciphers"] = c.DEFAULT_TLS_CIPHERS
    if not state.get("tls_versions"):
        state["tls_versions"] = list(c.DEFAULT_TLS_VERSIONS)
    if not state.get("alpn_protocols"):
        state["alpn_protocols"] = list(c.DEFAULT_ALPN_PROTOCOLS)


def session_persistence(pool_protocol: str, sp: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Validate a (merged) session_persistence and return it with all four keys."""
    if sp is None:
        return None
    sp_type = sp.get("type")
    if sp_type is None:
        raise ValidationFailure("Invalid session_persistence provided.")
    out = {
        "type": sp_type,
        "cookie_name": sp.get("cookie_name"),
        "persistence_timeout": sp.get("persistence_timeout"),
        "persistence_granularity": sp.get("persistence_granularity"),
    }
    cookie = out["cookie_name"]
    if cookie:
        if sp_type != "APP_COOKIE":
            raise ValidationFailure(
                'Field "cookie_name" can only be specified with session persistence of type '
                '"APP_COOKIE".'
            )
        if BAD_COOKIE_NAME.search(cookie):
            raise ValidationFailure('Supplied "cookie_name" is invalid.')
    elif sp_type == "APP_COOKIE":
        raise ValidationFailure(
            'Field "cookie_name" must be specified when using the "APP_COOKIE" session '
            "persistence type."
        )
    if pool_protocol in L4_ONLY:
        if sp_type != "SOURCE_IP":
            raise ValidationFailure(
                f"Session persistence of type {sp_type} is not supported for {pool_protocol} "
                "protocol pools."
            )
        if out["persistence_timeout"] is None:
            out["persistence_timeout"] = SP_DEFAULT_TIMEOUT
        if out["persistence_granularity"] is None:
            out["persistence_granularity"] = SP_DEFAULT_GRANULARITY
    elif out["persistence_timeout"] is not None or out["persistence_granularity"] is not None:
        raise ValidationFailure(
            "persistence_timeout and persistence_granularity are only supported for UDP and "
            "SCTP protocol pools."
        )
    return out


def check_pool_tls(state: Mapping[str, Any]) -> None:
    if state.get("crl_container_ref") and not state.get("ca_tls_container_ref"):
        raise ValidationFailure(
            "A CA certificate reference is required to specify a revocation list."
        )
    if state["protocol"] in L4_ONLY and (
        state.get("tls_enabled")
        or state.get("tls_container_ref")
        or state.get("ca_tls_container_ref")
    ):
        raise ValidationFailure(f"{state['protocol']} protocol pools do not support TLS.")


def check_member_address(address: str, reserved: Iterable[str] = c.RESERVED_IPS) -> None:
    exploded = ipaddress.ip_address(address).exploded
    if exploded in {ipaddress.ip_address(r).exploded for r in reserved}:
        raise InvalidOption(exploded, "member address")


def member_key(body: Mapping[str, Any]) -> tuple[str, int]:
    """A member's identity within its pool, as the batch update matches it."""
    return (str(ipaddress.ip_address(body["address"])), int(body["protocol_port"]))


def check_batch_unique(members: Iterable[Mapping[str, Any]]) -> None:
    seen: set[tuple[str, int]] = set()
    for body in members:
        key = member_key(body)
        if key in seen:
            raise ValidationFailure(
                f"Duplicate member address {key[0]} and protocol_port {key[1]} in the request."
            )
        seen.add(key)
