"""Health monitor use cases: one monitor per pool, its type fitted to the pool's protocol.

Operating statuses are not touched here: the reconciler derives them (HM ONLINE/OFFLINE from
admin state; members OFFLINE under a monitor and NO_MONITOR without one, for the noop provider).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portus import constants as c
from portus.db.models import HealthMonitor, LoadBalancer, Pool, new_id
from portus.service.common import (
    Services,
    check_quota,
    get_scoped,
    mark,
    refuse_if_deleting,
    set_tags,
    touch_lb,
)
from portus.service.errors import ApiError, Conflict, InvalidInput, ValidationFailure
from portus.service.policy import RequestContext

LABEL = "Health Monitor"
HTTP_TYPES = ("HTTP", "HTTPS")
L4_POOL_PROTOCOLS = ("UDP", "SCTP")
L4_POOL_TYPES = ("UDP-CONNECT", "SCTP", "TCP", "HTTP")
L4_ONLY_TYPES = ("UDP-CONNECT", "SCTP")
UDP_CONNECT_MIN_DELAY = 3
HTTP_ONLY_FIELDS = ("http_method", "url_path", "expected_codes", "http_version", "domain_name")
HTTP_DEFAULTS: dict[str, Any] = {"http_method": "GET", "url_path": "/", "expected_codes": "200"}
DEFAULT_MAX_RETRIES_DOWN = 3
REQUIRED_ON_UPDATE = ("delay", "timeout", "max_retries")


# -- pure checks ------------------------------------------------------------------------------
def check_type_for_pool(pool_protocol: str, hm_type: str) -> None:
    """UDP/SCTP pools take L4-friendly monitors only; the L4-only types need such a pool."""
    if pool_protocol in L4_POOL_PROTOCOLS and hm_type not in L4_POOL_TYPES:
        raise ValidationFailure(
            f"The associated pool protocol is {pool_protocol}, so only a "
            f"{', '.join(L4_POOL_TYPES)} health monitor is supported."
        )
    if pool_protocol not in L4_POOL_PROTOCOLS and hm_type in L4_ONLY_TYPES:
        raise ValidationFailure(
            f"The {hm_type} health monitor type is only supported for pools of protocol "
            f"{' or '.join(L4_POOL_PROTOCOLS)}; pool protocol is {pool_protocol}."
        )


def check_http_fields(hm_type: str, values: Mapping[str, Any]) -> None:
    """HTTP-only settings on a non-HTTP monitor are refused rather than silently ignored."""
    if hm_type in HTTP_TYPES:
        return
    for name in HTTP_ONLY_FIELDS:
        if values.get(name) is not None:
            raise ApiError(f"{name} is not a valid option for health monitors of type {hm_type}")


def check_settings(values: Mapping[str, Any]) -> None:
    """Rules across fields, run on the merged (stored + sent) monitor."""
    if values["type"] == "UDP-CONNECT" and values["delay"] < UDP_CONNECT_MIN_DELAY:
        raise ValidationFailure(
            f"The request delay value {values['delay']} should be larger than or equal to "
            f"{UDP_CONNECT_MIN_DELAY} for the UDP-CONNECT health monitor type."
        )
    if values.get("domain_name") and values.get("http_version") != 1.1:
        raise ValidationFailure("http_version 1.1 is required when domain_name is set.")


def _state(hm: HealthMonitor) -> dict[str, Any]:
    return {
        "type": hm.type,
        "delay": hm.delay,
        "http_version": hm.http_version,
        "domain_name": hm.domain_name,
    }


def _mark_changed(obj: Any) -> None:
    if obj.provisioning_status != c.PENDING_CREATE:
        mark(obj, c.PENDING_UPDATE)


# -- use cases --------------------------------------------------------------------------------
def create_in_pool(
    svc: Services, session: Session, ctx: RequestContext, pool: Pool, body: dict[str, Any]
) -> HealthMonitor:
    """Add the monitor of ``pool`` (no touch_lb: the caller queues the LB once)."""
    refuse_if_deleting(pool, "Pool")
    ctx.require_write(pool.project_id)
    taken = session.scalar(select(HealthMonitor.id).where(HealthMonitor.pool_id == pool.id))
    if taken is not None:
        raise Conflict("This pool already has a health monitor")
    check_quota(svc, session, pool.project_id, "healthmonitor")
    hm_type = body["type"]
    check_type_for_pool(pool.protocol, hm_type)
    check_http_fields(hm_type, body)
    http: dict[str, Any] = {name: body.get(name) for name in HTTP_ONLY_FIELDS}
    if hm_type in HTTP_TYPES:
        for name, default in HTTP_DEFAULTS.items():
            if http[name] is None:
                http[name] = default
    retries_down = body.get("max_retries_down")
    hm = HealthMonitor(
        id=new_id(),
        project_id=pool.project_id,
        pool_id=pool.id,
        name=body.get("name"),
        admin_state_up=bool(body.get("admin_state_up", True)),
        type=hm_type,
        delay=body["delay"],
        timeout=body["timeout"],
        max_retries=body["max_retries"],
        max_retries_down=DEFAULT_MAX_RETRIES_DOWN if retries_down is None else retries_down,
        provisioning_status=c.PENDING_CREATE,
        operating_status=c.OFFLINE,
        **http,
    )
    check_settings(_state(hm))
    session.add(hm)
    session.flush()
    set_tags(session, hm.id, body.get("tags"), new=True)
    return hm


def _lb_of(session: Session, pool: Pool) -> LoadBalancer:
    lb = session.get(LoadBalancer, pool.load_balancer_id)
    assert lb is not None
    return lb


def create(
    svc: Services, session: Session, ctx: RequestContext, body: dict[str, Any]
) -> HealthMonitor:
    pool_id = body.get("pool_id")
    if not pool_id:
        raise InvalidInput("pool_id", None, "Mandatory field missing.")
    pool = get_scoped(session, ctx, Pool, pool_id, "Pool")
    lb = _lb_of(session, pool)
    refuse_if_deleting(lb, "Load Balancer")
    hm = create_in_pool(svc, session, ctx, pool, body)
    touch_lb(svc, session, lb)
    return hm


def get(session: Session, ctx: RequestContext, hm_id: str) -> HealthMonitor:
    return get_scoped(session, ctx, HealthMonitor, hm_id, LABEL)


def _writable(session: Session, ctx: RequestContext, hm_id: str) -> tuple[HealthMonitor, Pool]:
    hm = get(session, ctx, hm_id)
    ctx.require_write(hm.project_id)
    refuse_if_deleting(hm, LABEL)
    pool = session.get(Pool, hm.pool_id)
    assert pool is not None
    refuse_if_deleting(pool, "Pool")
    return hm, pool


def update(
    svc: Services, session: Session, ctx: RequestContext, hm_id: str, changes: dict[str, Any]
) -> HealthMonitor:
    hm, pool = _writable(session, ctx, hm_id)
    for name in REQUIRED_ON_UPDATE:
        if name in changes and changes[name] is None:
            raise ApiError(f"None is not a valid option for {name}")
    check_http_fields(hm.type, changes)
    for name in ("name", "delay", "timeout", "max_retries"):
        if name in changes:
            setattr(hm, name, changes[name])
    if "admin_state_up" in changes:
        hm.admin_state_up = bool(changes["admin_state_up"])
    if "max_retries_down" in changes:
        value = changes["max_retries_down"]
        hm.max_retries_down = DEFAULT_MAX_RETRIES_DOWN if value is None else value
    for name in HTTP_ONLY_FIELDS:
        if name in changes and hm.type in HTTP_TYPES:
            value = changes[name]
            setattr(hm, name, HTTP_DEFAULTS.get(name) if value is None else value)
    check_settings(_state(hm))
    if "tags" in changes:
        set_tags(session, hm.id, changes["tags"])
    _mark_changed(hm)
    touch_lb(svc, session, _lb_of(session, pool))
    return hm


def delete(svc: Services, session: Session, ctx: RequestContext, hm_id: str) -> None:
    """The reconciler drops the row and, without a monitor, members go back to NO_MONITOR."""
    hm, pool = _writable(session, ctx, hm_id)
    mark(hm, c.PENDING_DELETE)
    touch_lb(svc, session, _lb_of(session, pool))
