"""L7 rule use cases and the rule validation table (run after merging a PUT into the rule)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portus import constants as c
from portus.db.models import L7Policy, L7Rule, Listener, LoadBalancer, new_id
from portus.service.common import (
    Services,
    check_quota,
    get_scoped,
    mark,
    refuse_if_deleting,
    set_tags,
    touch_lb,
)
from portus.service.errors import ApiError, Conflict, NotFound
from portus.service.policy import RequestContext

LABEL = "L7 Rule"
POLICY_LABEL = "L7 Policy"

# RFC 7230 token (header and cookie names).
TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
# A header value: visible characters without quotes, or one quoted string.
HEADER_VALUE = re.compile(r'^(?:[\x21\x23-\x7e]+|"(?:[^"\\\x00-\x1f\x7f]|\\.)*")$')
# RFC 6265 cookie-octets.
COOKIE_VALUE = re.compile(r"^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]+$")
DN_FIELD = re.compile(r"^[a-zA-Z][A-Za-z0-9-]*$")
KEYED_TYPES = ("HEADER", "COOKIE", "SSL_DN_FIELD")
KEYLESS_TYPES = ("SSL_CONN_HAS_CERT", "SSL_VERIFY_RESULT")


class InvalidRule(ApiError):
    def __init__(self, detail: str) -> None:
        super().__init__(f"Error parsing L7Rule: Invalid L7 Rule: {detail}")


def _check_regex(value: str) -> None:
    try:
        re.compile(value)
    except re.error as exc:
        raise InvalidRule(f"'{value}' is not a valid regular expression: {exc}") from None


def validate_rule(rule: Mapping[str, Any]) -> None:
    """The §4 table: key, compare type and value must fit the rule type."""
    kind, compare, key, value = rule["type"], rule["compare_type"], rule.get("key"), rule["value"]
    if kind in KEYED_TYPES and not key:
        raise InvalidRule(f"rules of type {kind} need a key")
    if kind in KEYLESS_TYPES:
        if key:
            raise InvalidRule(f"rules of type {kind} do not use the key field")
        if compare != "EQUAL_TO":
            raise InvalidRule(f"rules of type {kind} only support the EQUAL_TO compare type")
    if kind in ("HEADER", "COOKIE") and not TOKEN.match(key or ""):
        raise InvalidRule(f"key '{key}' is not a valid {kind.lower()} name")
    if kind == "SSL_DN_FIELD" and not DN_FIELD.match(key or ""):
        raise InvalidRule(f"key '{key}' is not a valid distinguished name field")
    if kind == "FILE_TYPE" and compare not in ("EQUAL_TO", "REGEX"):
        raise InvalidRule(
            "rules of type FILE_TYPE only support the EQUAL_TO and REGEX compare types"
        )
    if kind == "SSL_CONN_HAS_CERT" and value.lower() != "true":
        raise InvalidRule(f"value '{value}' of a SSL_CONN_HAS_CERT rule must be 'true'")
    if kind == "SSL_VERIFY_RESULT" and not value.isdigit():
        raise InvalidRule(
            f"value '{value}' of a SSL_VERIFY_RESULT rule must be a non-negative integer"
        )
    if compare == "REGEX":
        _check_regex(value)
    elif kind in ("HOST_NAME", "PATH", "HEADER") and not HEADER_VALUE.match(value):
        raise InvalidRule(f"value '{value}' is not a valid header value")
    elif kind == "COOKIE" and not COOKIE_VALUE.match(value):
        raise InvalidRule(f"value '{value}' is not a valid cookie value")


def _mark_changed(obj: Any) -> None:
    if obj.provisioning_status != c.PENDING_CREATE:
        mark(obj, c.PENDING_UPDATE)


def _plain(body: Any) -> dict[str, Any]:
    """Accept a dict or a pydantic model (as graph create may hand over either)."""
    if hasattr(body, "model_dump"):
        return dict(body.model_dump(exclude_unset=True))
    return dict(body)


def create_in_policy(
    svc: Services, session: Session, ctx: RequestContext, policy: L7Policy, body: dict[str, Any]
) -> L7Rule:
    """Add one rule to ``policy`` (no touch_lb: the caller queues the LB once)."""
    body = _plain(body)
    refuse_if_deleting(policy, POLICY_LABEL)
    ctx.require_write(policy.project_id)
    live = session.scalar(
        select(func.count())
        .select_from(L7Rule)
        .where(
            L7Rule.l7policy_id == policy.id,
            L7Rule.provisioning_status.notin_((c.PENDING_DELETE, c.DELETED)),
        )
    )
    if int(live or 0) >= c.MAX_L7_RULES_PER_POLICY:
        raise Conflict(f"Too many rules on L7 policy {policy.id}")
    check_quota(svc, session, policy.project_id, "l7rule")
    values = {
        "type": body["type"],
        "compare_type": body["compare_type"],
        "key": body.get("key"),
        "value": body["value"],
        "invert": bool(body.get("invert") or False),
        "admin_state_up": bool(body.get("admin_state_up", True)),
    }
    validate_rule(values)
    rule = L7Rule(
        id=new_id(),
        project_id=policy.project_id,
        l7policy_id=policy.id,
        provisioning_status=c.PENDING_CREATE,
        operating_status=c.OFFLINE,
        **values,
    )
    session.add(rule)
    session.flush()
    set_tags(session, rule.id, body.get("tags"), new=True)
    return rule


def _lb_of(session: Session, policy: L7Policy) -> LoadBalancer:
    listener = session.get(Listener, policy.listener_id)
    assert listener is not None
    refuse_if_deleting(listener, "Listener")
    lb = session.get(LoadBalancer, listener.load_balancer_id)
    assert lb is not None
    refuse_if_deleting(lb, "Load Balancer")
    return lb


def get_policy(session: Session, ctx: RequestContext, policy_id: str) -> L7Policy:
    return get_scoped(session, ctx, L7Policy, policy_id, POLICY_LABEL)


def get(session: Session, ctx: RequestContext, policy_id: str, rule_id: str) -> L7Rule:
    """A rule of that policy; a rule of another policy is 404 like a missing one."""
    get_policy(session, ctx, policy_id)
    rule = session.get(L7Rule, rule_id)
    if rule is None or rule.l7policy_id != policy_id or rule.provisioning_status == c.DELETED:
        raise NotFound(LABEL, rule_id)
    return rule


def create(
    svc: Services, session: Session, ctx: RequestContext, policy_id: str, body: dict[str, Any]
) -> L7Rule:
    policy = get_policy(session, ctx, policy_id)
    lb = _lb_of(session, policy)
    rule = create_in_policy(svc, session, ctx, policy, body)
    touch_lb(svc, session, lb)
    return rule


def update(
    svc: Services,
    session: Session,
    ctx: RequestContext,
    policy_id: str,
    rule_id: str,
    changes: dict[str, Any],
) -> L7Rule:
    rule = get(session, ctx, policy_id, rule_id)
    ctx.require_write(rule.project_id)
    refuse_if_deleting(rule, LABEL)
    policy = get_policy(session, ctx, policy_id)
    refuse_if_deleting(policy, POLICY_LABEL)
    lb = _lb_of(session, policy)
    for name in ("type", "compare_type", "value"):
        if name in changes and changes[name] is None:
            raise ApiError(f"None is not a valid option for {name}")
    merged = {
        "type": rule.type,
        "compare_type": rule.compare_type,
        "key": rule.key,
        "value": rule.value,
        "invert": rule.invert,
        "admin_state_up": rule.admin_state_up,
    }
    merged.update({k: v for k, v in changes.items() if k in merged})
    merged["invert"] = bool(merged["invert"])
    merged["admin_state_up"] = bool(merged["admin_state_up"])
    validate_rule(merged)
    for name, value in merged.items():
        setattr(rule, name, value)
    if "tags" in changes:
        set_tags(session, rule.id, changes["tags"])
    _mark_changed(rule)
    touch_lb(svc, session, lb)
    return rule


def delete(
    svc: Services, session: Session, ctx: RequestContext, policy_id: str, rule_id: str
) -> None:
    rule = get(session, ctx, policy_id, rule_id)
    ctx.require_write(rule.project_id)
    refuse_if_deleting(rule, LABEL)
    policy = get_policy(session, ctx, policy_id)
    lb = _lb_of(session, policy)
    mark(rule, c.PENDING_DELETE)
    touch_lb(svc, session, lb)
