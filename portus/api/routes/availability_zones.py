"""/v2/lbaas/availabilityzones (keyed by name) and /v2/lbaas/availabilityzoneprofiles."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from portus.api.deps import collection_url, context, list_params, services
from portus.api.schemas.availability_zone import (
    AvailabilityZoneCreateBody,
    AvailabilityZoneProfileCreateBody,
    AvailabilityZoneProfileUpdateBody,
    AvailabilityZoneUpdateBody,
)
from portus.db.models import AvailabilityZone, AvailabilityZoneProfile
from portus.service import availability_zones as uc
from portus.service.common import Services
from portus.service.errors import ApiError
from portus.service.listing import ListParams, Page, paginate, select_fields
from portus.service.policy import RequestContext

router = APIRouter(tags=["availability_zones"])
ZONES = "/lbaas/availabilityzones"
PROFILES = "/lbaas/availabilityzoneprofiles"

ZONE_COLUMNS = {
    name: getattr(AvailabilityZone, name)
    for name in ("name", "description", "enabled", "availability_zone_profile_id", "created_at")
}
PROFILE_COLUMNS = {
    name: getattr(AvailabilityZoneProfile, name)
    for name in ("id", "name", "provider_name", "availability_zone_data", "created_at")
}
PAGING_KEYS = ("limit", "marker", "page_reverse", "tags", "tags-any", "not-tags", "not-tags-any")


def zone_view(row: AvailabilityZone) -> dict[str, Any]:
    return {
        "name": row.name,
        "description": row.description or "",
        "enabled": row.enabled,
        "availability_zone_profile_id": row.availability_zone_profile_id,
    }


def profile_view(row: AvailabilityZoneProfile) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name or "",
        "provider_name": row.provider_name,
        "availability_zone_data": row.availability_zone_data,
    }


def _page_by_name(session: Session, params: ListParams, base_url: str, max_limit: int) -> Page:
    """Zones have no id column, so filters/sort come from ``paginate`` and paging by name here."""
    rest = ListParams(tuple((k, v) for k, v in params.items if k not in PAGING_KEYS))
    rows = paginate(
        session,
        select(AvailabilityZone),
        AvailabilityZone,
        rest,
        columns=ZONE_COLUMNS,
        base_url=base_url,
        max_limit=10**9,
    ).rows
    raw_limit = params.one("limit")
    try:
        limit = max_limit if raw_limit in (None, "infinite") else int(raw_limit or 0)
    except ValueError:
        raise ApiError(f"Supplied limit '{raw_limit}' is not valid.") from None
    limit = max_limit if limit < 1 else min(limit, max_limit)
    marker = params.one("marker")
    start = 0
    if marker:
        names = [row.name for row in rows]
        if marker not in names:
            raise ApiError(f"Supplied pagination marker '{marker}' is not valid.")
        start = names.index(marker) + 1
    window = rows[start : start + limit]
    links: list[dict[str, str]] = []
    keep = [(k, v) for k, v in params.items if k not in ("marker", "page_reverse", "limit")]
    if window and start + limit < len(rows):
        query = urlencode([*keep, ("limit", str(limit)), ("marker", window[-1].name)])
        links.append({"href": f"{base_url}?{query}", "rel": "next"})
    if window and marker:
        query = urlencode(
            [*keep, ("limit", str(limit)), ("marker", window[0].name), ("page_reverse", "True")]
        )
        links.append({"href": f"{base_url}?{query}", "rel": "previous"})
    return Page(rows=window, links=links)


# -- zones ------------------------------------------------------------------------------------
@router.get(ZONES)
def list_zones(
    request: Request,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
    params: ListParams = Depends(list_params),
) -> JSONResponse:
    ctx.require_read(ctx.project_id)
    with svc.db.read() as s:
        page = _page_by_name(s, params, collection_url(request), svc.settings.pagination_max_limit)
        items = [select_fields(zone_view(row), params.fields) for row in page.rows]
    return JSONResponse({"availability_zones": items, "availability_zones_links": page.links})


@router.post(ZONES, status_code=201)
def create_zone(
    body: AvailabilityZoneCreateBody,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
) -> JSONResponse:
    with svc.db.session() as s:
        result = zone_view(uc.create_zone(s, ctx, body.availability_zone.given()))
    return JSONResponse({"availability_zone": result}, status_code=201)


@router.get(ZONES + "/{name}")
def show_zone(
    name: str,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
    params: ListParams = Depends(list_params),
) -> JSONResponse:
    with svc.db.read() as s:
        result = select_fields(zone_view(uc.get_zone(s, ctx, name)), params.fields)
    return JSONResponse({"availability_zone": result})


@router.put(ZONES + "/{name}")
def update_zone(
    name: str,
    body: AvailabilityZoneUpdateBody,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
) -> JSONResponse:
    with svc.db.session() as s:
        row = uc.update_zone(s, ctx, name, body.availability_zone.given())
        s.flush()
        result = zone_view(row)
    return JSONResponse({"availability_zone": result})


@router.delete(ZONES + "/{name}", status_code=204)
def delete_zone(
    name: str, svc: Services = Depends(services), ctx: RequestContext = Depends(context)
) -> Response:
    with svc.db.session() as s:
        uc.delete_zone(s, ctx, name)
    return Response(status_code=204)


# -- zone profiles ----------------------------------------------------------------------------
@router.get(PROFILES)
def list_zone_profiles(
    request: Request,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
    params: ListParams = Depends(list_params),
) -> JSONResponse:
    ctx.require_admin()
    with svc.db.read() as s:
        page = paginate(
            s,
            select(AvailabilityZoneProfile),
            AvailabilityZoneProfile,
            params,
            columns=PROFILE_COLUMNS,
            base_url=collection_url(request),
            max_limit=svc.settings.pagination_max_limit,
        )
        items = [select_fields(profile_view(row), params.fields) for row in page.rows]
    return JSONResponse(
        {"availability_zone_profiles": items, "availability_zone_profile_links": page.links}
    )


@router.post(PROFILES, status_code=201)
def create_zone_profile(
    body: AvailabilityZoneProfileCreateBody,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
) -> JSONResponse:
    with svc.db.session() as s:
        row = uc.create_profile(svc, s, ctx, body.availability_zone_profile.given())
        result = profile_view(row)
    return JSONResponse({"availability_zone_profile": result}, status_code=201)


@router.get(PROFILES + "/{profile_id}")
def show_zone_profile(
    profile_id: str,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
    params: ListParams = Depends(list_params),
) -> JSONResponse:
    with svc.db.read() as s:
        result = select_fields(profile_view(uc.get_profile(s, ctx, profile_id)), params.fields)
    return JSONResponse({"availability_zone_profile": result})


@router.put(PROFILES + "/{profile_id}")
def update_zone_profile(
    profile_id: str,
    body: AvailabilityZoneProfileUpdateBody,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
) -> JSONResponse:
    with svc.db.session() as s:
        row = uc.update_profile(svc, s, ctx, profile_id, body.availability_zone_profile.given())
        s.flush()
        result = profile_view(row)
    return JSONResponse({"availability_zone_profile": result})


@router.delete(PROFILES + "/{profile_id}", status_code=204)
def delete_zone_profile(
    profile_id: str, svc: Services = Depends(services), ctx: RequestContext = Depends(context)
) -> Response:
    with svc.db.session() as s:
        uc.delete_profile(s, ctx, profile_id)
    return Response(status_code=204)
