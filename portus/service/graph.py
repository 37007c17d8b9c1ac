"""Creating trees of objects: a fully populated LB, a listener with its default pool and L7
policies, a pool with its health monitor and members.

Every nested dict goes through the same request schema and the same service rules as its own
endpoint. The schemas live in the API layer, which this layer may not import; the API registers
a parser per kind (``register_parser``) when its schema modules load, so the rules stay in one
place without an upward import.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from portus.db.models import Listener, LoadBalancer, Pool
from portus.service import healthmonitors, l7policies, listeners, members, pools
from portus.service.common import Services, get_scoped, touch_lb
from portus.service.errors import ApiError, ValidationFailure
from portus.service.policy import RequestContext

Parser = Callable[[Any], dict[str, Any]]
_PARSERS: dict[str, Parser] = {}


def register_parser(kind: str, parser: Parser) -> None:
    """Called by the API's schema modules: ``parser`` validates one raw ``kind`` dict and
    returns the fields sent (or raises the 400 the client should see)."""
    _PARSERS[kind] = parser


def parse(kind: str, raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ApiError(f"Invalid input for field/attribute {kind}. Value: '{raw}'.")
    parser = _PARSERS.get(kind)
    return parser(raw) if parser is not None else dict(raw)


# -- pools ------------------------------------------------------------------------------------
def build_pool(
    svc: Services,
    session: Session,
    ctx: RequestContext,
    lb: LoadBalancer,
    body: dict[str, Any],
    listener: Listener | None = None,
) -> Pool:
    """A validated pool body -> pool, then its health monitor, then its members (so members
    start OFFLINE under a monitor rather than NO_MONITOR)."""
    pool = pools.create_in_lb(svc, session, lb, body, listener)
    if body.get("healthmonitor") is not None:
        hm = parse("healthmonitor", body["healthmonitor"])
        healthmonitors.create_in_pool(svc, session, ctx, pool, hm)
    for raw in body.get("members") or []:
        members.create_in_pool(svc, session, pool, parse("member", raw))
    return pool


def create_pool(svc: Services, session: Session, ctx: RequestContext, body: dict[str, Any]) -> Pool:
    """POST /pools: on an LB, or as a listener's default pool (its LB implied)."""
    lb_id: str | None = body.get("loadbalancer_id")
    listener_id: str | None = body.get("listener_id")
    if not lb_id and not listener_id:
        raise ValidationFailure("Must provide at least one of: loadbalancer_id, listener_id")
    listener = None
    if listener_id:
        listener = get_scoped(session, ctx, Listener, listener_id, listeners.LABEL)
        if lb_id and lb_id != listener.load_balancer_id:
            raise ValidationFailure(f"Listener {listener_id} is not on load balancer {lb_id}.")
        lb_id = listener.load_balancer_id
    assert lb_id is not None
    lb = listeners.lb_for_write(session, ctx, lb_id)
    pool = build_pool(svc, session, ctx, lb, body, listener)
    touch_lb(svc, session, lb)
    return pool


# -- listeners --------------------------------------------------------------------------------
class PoolsByName:
    """Pools of a graph create, defined once in ``pools`` and referenced by name elsewhere."""

    def __init__(self) -> None:
        self.built: dict[str, Pool] = {}

    def resolve(
        self,
        svc: Services,
        session: Session,
        ctx: RequestContext,
        lb: LoadBalancer,
        ref: Any,
        listener: Listener | None = None,
    ) -> Pool:
        """``ref``: a name-only reference to a ``pools`` entry, or a full inline definition.
        With ``listener`` the pool becomes its default pool."""
        if not isinstance(ref, dict):
            raise ApiError(f"Invalid input for field/attribute pool. Value: '{ref}'.")
        name = ref.get("name")
        if name in self.built and set(ref) <= {"name"}:
            pool = self.built[name]
            if listener is not None:
                pools.attach_default(listener, pool)
            return pool
        if not set(ref) - {"name"}:
            raise ApiError(f"Pool '{name}' was referenced but no full definition was found.")
        if name in self.built:
            raise ValidationFailure(
                f"Pool '{name}' is defined twice in a fully populated loadbalancer."
            )
        pool = build_pool(svc, session, ctx, lb, parse("pool", ref), listener)
        if name:
            self.built[name] = pool
        return pool


def build_listener(
    svc: Services,
    session: Session,
    ctx: RequestContext,
    lb: LoadBalancer,
    body: dict[str, Any],
    named: PoolsByName,
) -> Listener:
    listener = listeners.create_in_lb(svc, session, lb, body)
    if body.get("default_pool") is not None:
        if body.get("default_pool_id"):
            raise ValidationFailure("default_pool and default_pool_id are mutually exclusive.")
        named.resolve(svc, session, ctx, lb, body["default_pool"], listener)
    for raw in body.get("l7policies") or []:
        policy = parse("l7policy", raw)
        ref = policy.pop("redirect_pool", None)
        if ref is not None:
            policy["redirect_pool_id"] = named.resolve(svc, session, ctx, lb, ref).id
        l7policies.create_in_listener(svc, session, ctx, listener, policy)
    return listener


def create_listener(
    svc: Services, session: Session, ctx: RequestContext, body: dict[str, Any]
) -> Listener:
    """POST /listeners (which, like Octavia's, may carry a default_pool and L7 policies)."""
    lb = listeners.lb_for_write(session, ctx, body["loadbalancer_id"])
    listener = build_listener(svc, session, ctx, lb, body, PoolsByName())
    touch_lb(svc, session, lb)
    return listener


# -- the fully populated load balancer --------------------------------------------------------
def create_children(
    svc: Services,
    session: Session,
    ctx: RequestContext,
    lb: LoadBalancer,
    listener_bodies: list[dict[str, Any]],
    pool_bodies: list[dict[str, Any]],
) -> None:
    """Listeners and pools of a single-call LB create (the LB use case touches the LB).

    Pools must be named; listeners' ``default_pool`` and policies' ``redirect_pool`` name them.
    Quotas are checked per object, so a graph that does not fit fails whole.
    """
    named = PoolsByName()
    for raw in pool_bodies:
        body = parse("pool", raw)
        name = body.get("name")
        if not name:
            raise ValidationFailure(
                "Pools must be named when creating a fully populated loadbalancer."
            )
        if name in named.built:
            raise ValidationFailure(
                f"Pool '{name}' is defined twice in a fully populated loadbalancer."
            )
        named.built[name] = build_pool(svc, session, ctx, lb, body)
    for raw in listener_bodies:
        build_listener(svc, session, ctx, lb, parse("listener", raw), named)
