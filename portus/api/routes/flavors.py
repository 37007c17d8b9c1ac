"""/v2/lbaas/flavors and /v2/lbaas/flavorprofiles (note the singular ``flavorprofile_links``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select

from portus.api.deps import collection_url, context, list_params, services
from portus.api.schemas.flavor import (
    FlavorCreateBody,
    FlavorProfileCreateBody,
    FlavorProfileUpdateBody,
    FlavorUpdateBody,
)
from portus.db.models import Flavor, FlavorProfile
from portus.service import flavors as uc
from portus.service.common import Services
from portus.service.listing import ListParams, paginate, select_fields
from portus.service.policy import RequestContext

router = APIRouter(tags=["flavors"])
FLAVORS = "/lbaas/flavors"
PROFILES = "/lbaas/flavorprofiles"

FLAVOR_COLUMNS = {
    name: getattr(Flavor, name)
    for name in ("id", "name", "description", "enabled", "flavor_profile_id", "created_at")
}
PROFILE_COLUMNS = {
    name: getattr(FlavorProfile, name)
    for name in ("id", "name", "provider_name", "flavor_data", "created_at")
}


def flavor_view(row: Flavor) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name or "",
        "description": row.description or "",
        "enabled": row.enabled,
        "flavor_profile_id": row.flavor_profile_id,
    }


def profile_view(row: FlavorProfile) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name or "",
        "provider_name": row.provider_name,
        "flavor_data": row.flavor_data,
    }


# -- flavors ----------------------------------------------------------------------------------
@router.get(FLAVORS)
def list_flavors(
    request: Request,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
    params: ListParams = Depends(list_params),
) -> JSONResponse:
    ctx.require_read(ctx.project_id)
    with svc.db.read() as s:
        page = paginate(
            s,
            select(Flavor),
            Flavor,
            params,
            columns=FLAVOR_COLUMNS,
            base_url=collection_url(request),
            max_limit=svc.settings.pagination_max_limit,
        )
        items = [select_fields(flavor_view(row), params.fields) for row in page.rows]
    return JSONResponse({"flavors": items, "flavors_links": page.links})


@router.post(FLAVORS, status_code=201)
def create_flavor(
    body: FlavorCreateBody,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
) -> JSONResponse:
    with svc.db.session() as s:
        result = flavor_view(uc.create_flavor(s, ctx, body.flavor.given()))
    return JSONResponse({"flavor": result}, status_code=201)


@router.get(FLAVORS + "/{flavor_id}")
def show_flavor(
    flavor_id: str,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
    params: ListParams = Depends(list_params),
) -> JSONResponse:
    with svc.db.read() as s:
        result = select_fields(flavor_view(uc.get_flavor(s, ctx, flavor_id)), params.fields)
    return JSONResponse({"flavor": result})


@router.put(FLAVORS + "/{flavor_id}")
def update_flavor(
    flavor_id: str,
    body: FlavorUpdateBody,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
) -> JSONResponse:
    with svc.db.session() as s:
        row = uc.update_flavor(s, ctx, flavor_id, body.flavor.given())
        s.flush()
        result = flavor_view(row)
    return JSONResponse({"flavor": result})


@router.delete(FLAVORS + "/{flavor_id}", status_code=204)
def delete_flavor(
    flavor_id: str, svc: Services = Depends(services), ctx: RequestContext = Depends(context)
) -> Response:
    with svc.db.session() as s:
        uc.delete_flavor(s, ctx, flavor_id)
    return Response(status_code=204)


# -- flavor profiles --------------------------------------------------------------------------
@router.get(PROFILES)
def list_flavorprofiles(
    request: Request,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
    params: ListParams = Depends(list_params),
) -> JSONResponse:
    ctx.require_admin()
    with svc.db.read() as s:
        page = paginate(
            s,
            select(FlavorProfile),
            FlavorProfile,
            params,
            columns=PROFILE_COLUMNS,
            base_url=collection_url(request),
            max_limit=svc.settings.pagination_max_limit,
        )
        items = [select_fields(profile_view(row), params.fields) for row in page.rows]
    return JSONResponse({"flavorprofiles": items, "flavorprofile_links": page.links})


@router.post(PROFILES, status_code=201)
def create_flavorprofile(
    body: FlavorProfileCreateBody,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
) -> JSONResponse:
    with svc.db.session() as s:
        result = profile_view(uc.create_profile(svc, s, ctx, body.flavorprofile.given()))
    return JSONResponse({"flavorprofile": result}, status_code=201)


@router.get(PROFILES + "/{profile_id}")
def show_flavorprofile(
    profile_id: str,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
    params: ListParams = Depends(list_params),
) -> JSONResponse:
    with svc.db.read() as s:
        result = select_fields(profile_view(uc.get_profile(s, ctx, profile_id)), params.fields)
    return JSONResponse({"flavorprofile": result})


@router.put(PROFILES + "/{profile_id}")
def update_flavorprofile(
    profile_id: str,
    body: FlavorProfileUpdateBody,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
) -> JSONResponse:
    with svc.db.session() as s:
        row = uc.update_profile(svc, s, ctx, profile_id, body.flavorprofile.given())
        s.flush()
        result = profile_view(row)
    return JSONResponse({"flavorprofile": result})


@router.delete(PROFILES + "/{profile_id}", status_code=204)
def delete_flavorprofile(
    profile_id: str, svc: Services = Depends(services), ctx: RequestContext = Depends(context)
) -> Response:
    with svc.db.session() as s:
        uc.delete_profile(s, ctx, profile_id)
    return Response(status_code=204)
