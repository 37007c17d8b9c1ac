"""Quota use cases: per-project records over configured defaults (-1 = unlimited).

Only projects with a record are listed; a record's unset limits read as null there and as the
default in the effective view. Enforcement lives in ``common.check_quota``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portus.db.models import Quota
from portus.service.common import QUOTA_KINDS, Services
from portus.service.errors import NotFound
from portus.service.policy import QUOTA_ADMIN_ROLES, RequestContext

KINDS: tuple[str, ...] = tuple(QUOTA_KINDS)
# Deprecated spellings clients (python-octaviaclient among them) still read and write.
DEPRECATED_ALIASES = {"load_balancer": "loadbalancer", "health_monitor": "healthmonitor"}


def with_aliases(limits: dict[str, int | None]) -> dict[str, int | None]:
    """Limits under both the current and the deprecated names."""
    out = dict(limits)
    for old, new in DEPRECATED_ALIASES.items():
        out[old] = limits[new]
    return out


def defaults(svc: Services) -> dict[str, int | None]:
    return {kind: int(getattr(svc.settings.quotas, kind)) for kind in KINDS}


def record_limits(row: Quota) -> dict[str, int | None]:
    return {kind: getattr(row, kind) for kind in KINDS}


def effective(svc: Services, session: Session, project_id: str) -> dict[str, int | None]:
    base = defaults(svc)
    row = session.get(Quota, project_id)
    if row is None:
        return base
    return {k: base[k] if v is None else v for k, v in record_limits(row).items()}


def list_records(
    session: Session, ctx: RequestContext, project_id: str | None
) -> list[tuple[str, dict[str, int | None]]]:
    """(project, raw limits) of every custom record the caller may see."""
    stmt = select(Quota).order_by(Quota.project_id)
    if project_id:
        ctx.require_quota_read(project_id)
        stmt = stmt.where(Quota.project_id == project_id)
    elif not (ctx.roles & QUOTA_ADMIN_ROLES or ctx.can_read_all):
        ctx.require_quota_read(ctx.project_id)
        stmt = stmt.where(Quota.project_id == ctx.project_id)
    return [(row.project_id, record_limits(row)) for row in session.scalars(stmt)]


def show(
    svc: Services, session: Session, ctx: RequestContext, project_id: str
) -> dict[str, int | None]:
    ctx.require_quota_read(project_id)
    return effective(svc, session, project_id)


def show_defaults(svc: Services, ctx: RequestContext, project_id: str | None) -> dict[str, Any]:
    ctx.require_quota_read(project_id or ctx.project_id)
    return defaults(svc)


def update(
    svc: Services,
    session: Session,
    ctx: RequestContext,
    project_id: str,
    changes: dict[str, int | None],
) -> dict[str, int | None]:
    """Set the sent limits (null = back to the default); returns the effective quota."""
    ctx.require_quota_write()
    row = session.get(Quota, project_id)
    if row is None:
        row = Quota(project_id=project_id)
        session.add(row)
    for kind, value in changes.items():
        if kind in KINDS:
            setattr(row, kind, value)
    session.flush()
    return effective(svc, session, project_id)


def reset(session: Session, ctx: RequestContext, project_id: str) -> None:
    ctx.require_quota_write()
    row = session.get(Quota, project_id)
    if row is None:
        raise NotFound("Quota", project_id)
    session.delete(row)
