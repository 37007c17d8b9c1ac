"""/v2/lbaas/providers and their flavor / availability zone capabilities."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from portus.api.deps import context, list_params, services
from portus.service import providers as uc
from portus.service.common import Services
from portus.service.errors import ApiError
from portus.service.listing import ListParams, select_fields
from portus.service.policy import RequestContext

router = APIRouter(tags=["providers"])
BASE = "/lbaas/providers"
FILTERS = ("name", "description")


def _filtered(items: list[dict[str, str]], params: ListParams) -> list[dict[str, str]]:
    """Exact-match name/description filters, then ``fields``; other keys are refused."""
    for key, value in params.items:
        if key == "fields":
            continue
        if key not in FILTERS:
            raise ApiError("One or more arguments are either duplicate or invalid")
        items = [item for item in items if item[key] == value]
    return [select_fields(item, params.fields) for item in items]


@router.get(BASE)
def list_providers(
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
    params: ListParams = Depends(list_params),
) -> JSONResponse:
    return JSONResponse({"providers": _filtered(uc.list_providers(svc, ctx), params)})


@router.get(BASE + "/{provider}/flavor_capabilities")
def flavor_capabilities(
    provider: str,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
    params: ListParams = Depends(list_params),
) -> JSONResponse:
    items = uc.flavor_capabilities(svc, ctx, provider)
    return JSONResponse({"flavor_capabilities": _filtered(items, params)})


@router.get(BASE + "/{provider}/availability_zone_capabilities")
def availability_zone_capabilities(
    provider: str,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
    params: ListParams = Depends(list_params),
) -> JSONResponse:
    items = uc.az_capabilities(svc, ctx, provider)
    return JSONResponse({"availability_zone_capabilities": _filtered(items, params)})
