"""What every use case shares: the service container, lookups with scoping, tags, quotas and
handing an LB to the reconciler.

The concurrency rule of Portus lives here (``touch_lb``): a write never waits for, or is refused
because of, another write in flight on the same LB. It bumps the LB's ``generation``, marks the LB
PENDING_UPDATE (so clients that wait for ACTIVE still wait), and queues the LB; the reconciler
coalesces. Only writes to objects that are being deleted are refused (409).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.interfaces import ORMOption

from portus import constants as c
from portus.config import Settings
from portus.db import workqueue
from portus.db.engine import Database
from portus.db.models import (
    HealthMonitor,
    L7Policy,
    L7Rule,
    Listener,
    LoadBalancer,
    Member,
    Pool,
    Quota,
    Tag,
    utcnow,
)
from portus.service.errors import Conflict, NotFound, QuotaExceeded
from portus.service.policy import RequestContext

T = TypeVar("T")


@dataclass
class Services:
    """Everything a use case needs, passed explicitly (no globals)."""

    settings: Settings
    db: Database
    notify: Callable[[], None] = field(default=lambda: None)
    clock: Callable[[], float] = field(default=time.time)
    enabled_providers: tuple[str, ...] = ("noop",)


def get_scoped(
    session: Session,
    ctx: RequestContext,
    model: type[T],
    id_: str,
    label: str,
    options: Sequence[ORMOption] = (),
) -> T:
    """Fetch by id; 404 when missing or deleted, 403 when another project's (as Octavia).
    ``options``: loader options, e.g. to bring the parent LB in the same query."""
    obj = session.get(model, id_, options=options)
    if obj is None or getattr(obj, "provisioning_status", None) == c.DELETED:
        raise NotFound(label, id_)
    ctx.require_read(getattr(obj, "project_id", None))
    return obj


def refuse_if_deleting(obj: Any, label: str) -> None:
    if obj.provisioning_status in (c.PENDING_DELETE, c.DELETED):
        raise Conflict(f"{label} {obj.id} is immutable and cannot be updated.")


def touch_lb(svc: Services, session: Session, lb: LoadBalancer) -> None:
    """Record a new desired generation for ``lb`` and queue it for the reconciler."""
    lb.generation += 1
    if lb.provisioning_status not in (c.PENDING_CREATE, c.PENDING_DELETE):
        lb.provisioning_status = c.PENDING_UPDATE
    if lb.provisioning_status != c.PENDING_CREATE:
        lb.updated_at = utcnow()
    workqueue.enqueue(session, lb.id, svc.clock())


def mark(obj: Any, status: str) -> None:
    obj.provisioning_status = status
    if status != c.PENDING_CREATE:
        obj.updated_at = utcnow()


# -- tags -------------------------------------------------------------------------------------
def set_tags(
    session: Session, resource_id: str, tags: Iterable[str] | None, *, new: bool = False
) -> None:
    """Replace a resource's tags (``new``: it has none yet, so there is nothing to delete)."""
    if not new:
        session.execute(delete(Tag).where(Tag.resource_id == resource_id))
    for tag in sorted(set(tags or ())):
        session.add(Tag(resource_id=resource_id, tag=tag))


def tags_of(session: Session, ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    if not ids:
        return out
    for rid, tag in session.execute(
        select(Tag.resource_id, Tag.tag).where(Tag.resource_id.in_(ids)).order_by(Tag.tag)
    ):
        out[rid].append(tag)
    return out


# -- quotas -----------------------------------------------------------------------------------
QUOTA_KINDS: dict[str, tuple[type[Any], str]] = {
    "loadbalancer": (LoadBalancer, "Load Balancer"),
    "listener": (Listener, "Listener"),
    "pool": (Pool, "Pool"),
    "healthmonitor": (HealthMonitor, "Health Monitor"),
    "member": (Member, "Member"),
    "l7policy": (L7Policy, "L7 Policy"),
    "l7rule": (L7Rule, "L7 Rule"),
}


def quota_limit(svc: Services, session: Session, project_id: str, kind: str) -> int:
    row = session.get(Quota, project_id)
    value = getattr(row, kind) if row is not None else None
    if value is None:
        value = getattr(svc.settings.quotas, kind)
    return int(value)


def in_use(session: Session, project_id: str, kind: str) -> int:
    model, _ = QUOTA_KINDS[kind]
    stmt = select(func.count()).select_from(model).where(model.project_id == project_id)
    stmt = stmt.where(model.provisioning_status != c.DELETED)
    return int(session.scalar(stmt) or 0)


def check_quota(
    svc: Services, session: Session, project_id: str, kind: str, adding: int = 1
) -> None:
    limit = quota_limit(svc, session, project_id, kind)
    if limit < 0 or adding <= 0:
        return
    if in_use(session, project_id, kind) + adding > limit:
        raise QuotaExceeded(QUOTA_KINDS[kind][1])
