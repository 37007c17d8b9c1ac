"""List queries the Octavia way: filters, tag filters, sorting, keyset pagination, links.

One function serves every collection so that every list call behaves the same; resources only
say which API names map to which columns.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import ColumnElement, Select, and_, exists, false, not_, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from portus.db.models import Tag
from portus.service.errors import ApiError

RESERVED = {
    "limit",
    "marker",
    "page_reverse",
    "sort",
    "sort_key",
    "sort_dir",
    "fields",
    "tags",
    "tags-any",
    "not-tags",
    "not-tags-any",
}
TRUE = {"true", "1", "yes", "on", "t", "y"}
FALSE = {"false", "0", "no", "off", "f", "n"}


@dataclass(frozen=True)
class ListParams:
    """The list-call query string, parsed once (repeated keys kept)."""

    items: tuple[tuple[str, str], ...]

    @classmethod
    def from_pairs(cls, pairs: Sequence[tuple[str, str]]) -> ListParams:
        return cls(tuple(pairs))

    def all(self, key: str) -> list[str]:
        return [v for k, v in self.items if k == key]

    def one(self, key: str) -> str | None:
        values = self.all(key)
        return values[-1] if values else None

    def csv(self, key: str) -> list[str]:
        out: list[str] = []
        for v in self.all(key):
            out.extend(x for x in v.split(",") if x)
        return out

    @property
    def fields(self) -> list[str]:
        return self.csv("fields")


@dataclass
class Page:
    rows: list[Any]
    links: list[dict[str, str]]


def _coerce(column: Any, raw: str) -> Any:
    python_type = None
    with contextlib.suppress(NotImplementedError, AttributeError):
        python_type = column.type.python_type
    if python_type is bool:
        low = raw.lower()
        if low in TRUE:
            return True
        if low in FALSE:
            return False
        raise ApiError("One or more arguments are either duplicate or invalid")
    if python_type is int:
        try:
            return int(raw)
        except ValueError:
            raise ApiError("One or more arguments are either duplicate or invalid") from None
    if python_type is float:
        try:
            return float(raw)
        except ValueError:
            raise ApiError("One or more arguments are either duplicate or invalid") from None
    return raw


def _tag_filters(model: Any, params: ListParams) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []

    def has(tag: str) -> ColumnElement[bool]:
        return exists().where(and_(Tag.resource_id == model.id, Tag.tag == tag))

    def has_any(tags: list[str]) -> ColumnElement[bool]:
        return exists().where(and_(Tag.resource_id == model.id, Tag.tag.in_(tags)))

    if tags := params.csv("tags"):
        out.extend(has(t) for t in tags)
    if tags := params.csv("tags-any"):
        out.append(has_any(tags))
    if tags := params.csv("not-tags"):
        out.append(not_(and_(*[has(t) for t in tags])))
    if tags := params.csv("not-tags-any"):
        out.append(not_(has_any(tags)))
    return out


def _sort_keys(params: ListParams, columns: Mapping[str, Any]) -> list[tuple[str, bool]]:
    """[(api_key, descending)], with created_at and id appended as tie-breakers."""
    keys: list[tuple[str, bool]] = []
    if sort := params.one("sort"):
        for part in sort.split(","):
            key, _, direction = part.partition(":")
            keys.append((key.strip(), _direction(direction or "asc")))
    else:
        names = params.csv("sort_key")
        dirs = params.csv("sort_dir")
        for i, key in enumerate(names):
            keys.append((key, _direction(dirs[i] if i < len(dirs) else "asc")))
    for key, _desc in keys:
        if key not in columns:
            raise ApiError(f"Supplied sort key '{key}' is not valid.")
    present = {k for k, _ in keys}
    for tie in ("created_at", "id"):
        if tie in columns and tie not in present:
            keys.append((tie, False))
    return keys


def _direction(raw: str) -> bool:
    low = raw.strip().lower()
    if low not in ("asc", "desc"):
        raise ApiError(f"Supplied sort direction '{raw}' is not valid.")
    return low == "desc"


def _limit(params: ListParams, max_limit: int) -> int:
    raw = params.one("limit")
    if raw is None or raw == "infinite":
        return max_limit
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(f"Supplied limit '{raw}' is not valid.") from None
    if value < 1:
        return max_limit
    return min(value, max_limit)


def _keyset(
    keys: list[tuple[str, bool]], columns: Mapping[str, Any], marker_row: Any
) -> ColumnElement[bool]:
    clauses: list[ColumnElement[bool]] = []
    for i, (key, desc) in enumerate(keys):
        col = columns[key]
        value = getattr(marker_row, col.key)
        equal_prefix = [columns[k] == getattr(marker_row, columns[k].key) for k, _ in keys[:i]]
        step = col < value if desc else col > value
        clauses.append(and_(*equal_prefix, step))
    return or_(*clauses) if clauses else false()


def paginate(
    session: Session,
    stmt: Select[Any],
    model: Any,
    params: ListParams,
    *,
    columns: Mapping[str, InstrumentedAttribute[Any]],
    base_url: str,
    max_limit: int,
    extra_filters: Mapping[str, Any] | None = None,
    core: bool = False,
) -> Page:
    """Apply filters/sort/pagination to ``stmt`` (already scoped to what the caller may see).

    ``core``: ``stmt`` selects table columns, and plain rows (read like objects, by attribute)
    come back instead of ORM objects, which is several times cheaper for big lists.
    """
    extra = dict(extra_filters or {})
    for key, raw in params.items:
        if key in RESERVED:
            continue
        if key in extra:
            stmt = stmt.where(extra[key](raw))
            continue
        col = columns.get(key)
        if col is None:
            raise ApiError("One or more arguments are either duplicate or invalid")
        stmt = stmt.where(col == _coerce(col, raw))
    for clause in _tag_filters(model, params):
        stmt = stmt.where(clause)

    keys = _sort_keys(params, columns)
    reverse = (params.one("page_reverse") or "").lower() in TRUE
    limit = _limit(params, max_limit)
    marker = params.one("marker")
    if marker:
        marker_row = session.get(model, marker)
        if marker_row is None:
            raise ApiError(f"Supplied pagination marker '{marker}' is not valid.")
        walk = [(k, d != reverse) for k, d in keys]
        stmt = stmt.where(_keyset(walk, columns, marker_row))
    order = []
    for key, desc in keys:
        col = columns[key]
        order.append(col.desc() if desc != reverse else col.asc())
    final = stmt.order_by(*order).limit(limit + 1)
    if core:
        # Straight to the connection: a Core select needs none of the ORM's result machinery.
        rows: list[Any] = list(session.connection().execute(final).all())
    else:
        rows = list(session.scalars(final).unique())
    more = len(rows) > limit
    rows = rows[:limit]
    if reverse:
        rows.reverse()

    links: list[dict[str, str]] = []
    if rows:
        keep = [(k, v) for k, v in params.items if k not in ("marker", "page_reverse", "limit")]
        if (more and not reverse) or (reverse and marker):
            q = [*keep, ("limit", str(limit)), ("marker", rows[-1].id)]
            links.append({"href": f"{base_url}?{urlencode(q)}", "rel": "next"})
        if marker or (reverse and more):
            q = [*keep, ("limit", str(limit)), ("marker", rows[0].id), ("page_reverse", "True")]
            links.append({"href": f"{base_url}?{urlencode(q)}", "rel": "previous"})
    return Page(rows=rows, links=links)


def select_fields(obj: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    if not fields:
        return obj
    return {k: obj[k] for k in fields if k in obj}


def scoped(stmt: Select[Any], model: Any, ctx_project: str | None, read_all: bool) -> Select[Any]:
    if read_all:
        return stmt
    return stmt.where(model.project_id == ctx_project)


def base_select(model: Any) -> Select[Any]:
    return select(model)
