"""L7 policy use cases: actions and their redirect targets, and 1-based contiguous positions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from portus import constants as c
from portus.db.models import L7Policy, L7Rule, Listener, LoadBalancer, Pool, new_id
from portus.service import l7rules
from portus.service.common import (
    Services,
    check_quota,
    get_scoped,
    mark,
    refuse_if_deleting,
    set_tags,
    touch_lb,
)
from portus.service.errors import ApiError, InvalidInput, NotFound, ValidationFailure
from portus.service.policy import RequestContext

LABEL = "L7 Policy"
L7_LISTENER_PROTOCOLS = ("HTTP", "TERMINATED_HTTPS")
TARGETS = {
    "REDIRECT_TO_POOL": "redirect_pool_id",
    "REDIRECT_TO_URL": "redirect_url",
    "REDIRECT_PREFIX": "redirect_prefix",
}
CODED_ACTIONS = ("REDIRECT_TO_URL", "REDIRECT_PREFIX")
DEFAULT_REDIRECT_CODE = 302
T = TypeVar("T")


# -- pure rules -------------------------------------------------------------------------------
def check_listener_protocol(listener_id: str, protocol: str) -> None:
    if protocol == "PROMETHEUS":
        raise ApiError("Protocol PROMETHEUS listeners cannot have child objects.")
    if protocol not in L7_LISTENER_PROTOCOLS:
        raise ValidationFailure(
            f"L7 policies need an HTTP or TERMINATED_HTTPS listener; listener {listener_id} "
            f"uses protocol {protocol}."
        )


def resolve_action(current: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """Action, redirect targets and code after applying ``changes`` to ``current``.

    Sending one redirect target implies its action and clears the other targets; the redirect
    code defaults to 302 for URL/prefix redirects and is null for every other action.
    """
    sent = [field for field in TARGETS.values() if changes.get(field) is not None]
    if len(sent) > 1:
        raise ValidationFailure(f"Only one redirect target may be given, got {', '.join(sent)}.")
    if "action" in changes and changes["action"] is None:
        raise ApiError("None is not a valid option for action")
    implied = next((a for a, f in TARGETS.items() if sent and f == sent[0]), None)
    action = changes.get("action") or implied or current.get("action")
    if action is None:
        raise InvalidInput("action", None, "Mandatory field missing.")
    if "action" in changes and implied and implied != action:
        raise ValidationFailure(f"{sent[0]} cannot be used with action {action}.")
    out: dict[str, Any] = {"action": action}
    for field in TARGETS.values():
        out[field] = changes[field] if field in changes else current.get(field)
    needed = TARGETS.get(action)
    for field in TARGETS.values():
        if field != needed:
            out[field] = None
    if needed and out[needed] is None:
        raise ValidationFailure(f"{needed} is required for action {action}.")
    code = changes.get("redirect_http_code", current.get("redirect_http_code"))
    if action in CODED_ACTIONS:
        out["redirect_http_code"] = DEFAULT_REDIRECT_CODE if code is None else code
    else:
        out["redirect_http_code"] = None
    return out


def place(ordered: list[T], item: T, position: int | None) -> list[T]:
    """``item`` inserted at 1-based ``position`` (appended when absent or past the end)."""
    out = list(ordered)
    index = len(out) if position is None else min(max(position, 1) - 1, len(out))
    out.insert(index, item)
    return out


# -- helpers ----------------------------------------------------------------------------------
def _live(session: Session, listener_id: str) -> list[L7Policy]:
    return list(
        session.scalars(
            select(L7Policy)
            .where(
                L7Policy.listener_id == listener_id,
                L7Policy.provisioning_status.notin_((c.PENDING_DELETE, c.DELETED)),
            )
            .order_by(L7Policy.position, L7Policy.created_at)
        )
    )


def _renumber(
    session: Session, listener_id: str, moving: L7Policy | None, position: int | None
) -> None:
    """Keep a listener's positions 1..n; ``moving`` is (re)inserted at ``position``."""
    others = [p for p in _live(session, listener_id) if moving is None or p.id != moving.id]
    ordered = place(others, moving, position) if moving is not None else others
    for index, policy in enumerate(ordered, start=1):
        if policy.position != index:
            policy.position = index


def _check_pool(session: Session, listener: Listener, pool_id: str) -> None:
    pool = session.get(Pool, pool_id)
    if pool is None or pool.provisioning_status == c.DELETED:
        raise NotFound("Pool", pool_id)
    if pool.load_balancer_id != listener.load_balancer_id:
        raise ValidationFailure(
            f"Pool {pool_id} is not on load balancer {listener.load_balancer_id} of "
            f"listener {listener.id}."
        )
    refuse_if_deleting(pool, "Pool")
    if pool.protocol not in c.LISTENER_POOL_PROTOCOLS.get(listener.protocol, ()):
        raise ApiError(
            f"The pool protocol '{pool.protocol}' is invalid while the listener protocol is "
            f"'{listener.protocol}'."
        )


def _mark_changed(obj: Any) -> None:
    if obj.provisioning_status != c.PENDING_CREATE:
        mark(obj, c.PENDING_UPDATE)


def _plain(body: Any) -> dict[str, Any]:
    if hasattr(body, "model_dump"):
        return dict(body.model_dump(exclude_unset=True))
    return dict(body)


def _listener_and_lb(session: Session, listener_id: str) -> tuple[Listener, LoadBalancer]:
    listener = session.get(Listener, listener_id)
    assert listener is not None
    lb = session.get(LoadBalancer, listener.load_balancer_id)
    assert lb is not None
    return listener, lb


# -- use cases --------------------------------------------------------------------------------
def create_in_listener(
    svc: Services, session: Session, ctx: RequestContext, listener: Listener, body: dict[str, Any]
) -> L7Policy:
    """Add a policy (and its ``rules``) to ``listener``; no touch_lb, the caller does it once.

    In a graph create, an inline ``redirect_pool`` must already be resolved to
    ``redirect_pool_id`` by the caller.
    """
    body = _plain(body)
    refuse_if_deleting(listener, "Listener")
    check_listener_protocol(listener.id, listener.protocol)
    ctx.require_write(listener.project_id)
    check_quota(svc, session, listener.project_id, "l7policy")
    target = resolve_action({}, {k: v for k, v in body.items() if k != "redirect_pool"})
    if target["redirect_pool_id"]:
        _check_pool(session, listener, target["redirect_pool_id"])
    policy = L7Policy(
        id=new_id(),
        project_id=listener.project_id,
        listener_id=listener.id,
        name=body.get("name"),
        description=body.get("description"),
        admin_state_up=bool(body.get("admin_state_up", True)),
        provisioning_status=c.PENDING_CREATE,
        operating_status=c.OFFLINE,
        position=1,
        **target,
    )
    _renumber(session, listener.id, policy, body.get("position"))
    session.add(policy)
    session.flush()
    set_tags(session, policy.id, body.get("tags"), new=True)
    for rule in body.get("rules") or []:
        l7rules.create_in_policy(svc, session, ctx, policy, rule)
    return policy


def create(svc: Services, session: Session, ctx: RequestContext, body: dict[str, Any]) -> L7Policy:
    listener_id = body.get("listener_id")
    if not listener_id:
        raise InvalidInput("listener_id", None, "Mandatory field missing.")
    listener = get_scoped(session, ctx, Listener, listener_id, "Listener")
    _, lb = _listener_and_lb(session, listener.id)
    refuse_if_deleting(lb, "Load Balancer")
    policy = create_in_listener(svc, session, ctx, listener, body)
    touch_lb(svc, session, lb)
    return policy


def get(session: Session, ctx: RequestContext, policy_id: str) -> L7Policy:
    return get_scoped(session, ctx, L7Policy, policy_id, LABEL)


def _writable(
    session: Session, ctx: RequestContext, policy_id: str
) -> tuple[L7Policy, Listener, LoadBalancer]:
    policy = get(session, ctx, policy_id)
    ctx.require_write(policy.project_id)
    refuse_if_deleting(policy, LABEL)
    listener, lb = _listener_and_lb(session, policy.listener_id)
    refuse_if_deleting(listener, "Listener")
    refuse_if_deleting(lb, "Load Balancer")
    return policy, listener, lb


def update(
    svc: Services, session: Session, ctx: RequestContext, policy_id: str, changes: dict[str, Any]
) -> L7Policy:
    policy, listener, lb = _writable(session, ctx, policy_id)
    current = {
        "action": policy.action,
        "redirect_pool_id": policy.redirect_pool_id,
        "redirect_url": policy.redirect_url,
        "redirect_prefix": policy.redirect_prefix,
        "redirect_http_code": policy.redirect_http_code,
    }
    target = resolve_action(current, changes)
    pool_id = target["redirect_pool_id"]
    if pool_id and (pool_id != policy.redirect_pool_id or "redirect_pool_id" in changes):
        _check_pool(session, listener, pool_id)
    for name, value in target.items():
        setattr(policy, name, value)
    for name in ("name", "description"):
        if name in changes:
            setattr(policy, name, changes[name])
    if "admin_state_up" in changes:
        policy.admin_state_up = bool(changes["admin_state_up"])
    if "position" in changes:
        _renumber(session, listener.id, policy, changes["position"])
    if "tags" in changes:
        set_tags(session, policy.id, changes["tags"])
    _mark_changed(policy)
    touch_lb(svc, session, lb)
    return policy


def delete(svc: Services, session: Session, ctx: RequestContext, policy_id: str) -> None:
    """The policy and its rules go PENDING_DELETE; the others close the gap at once."""
    policy, listener, lb = _writable(session, ctx, policy_id)
    mark(policy, c.PENDING_DELETE)
    for rule in session.scalars(select(L7Rule).where(L7Rule.l7policy_id == policy.id)):
        mark(rule, c.PENDING_DELETE)
    session.flush()
    _renumber(session, listener.id, None, None)
    touch_lb(svc, session, lb)
