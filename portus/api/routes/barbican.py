"""/key-manager/v1: the Barbican v1 subset that ``openstack secret ...`` and Octavia use.

Served on the API's port so ``--os-endpoint http://<api>/key-manager`` (the client appends
``/v1``) or ``.../key-manager/v1`` works without a Barbican. Errors come out in Barbican's
shape (``code``, ``title``, ``description``), which python-barbicanclient prints.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse

from portus.api.deps import context, services, ts
from portus.db.models import Secret, SecretContainer
from portus.service import secrets as uc
from portus.service.common import Services
from portus.service.policy import RequestContext

router = APIRouter(tags=["key-manager"], include_in_schema=False)
ROOT = "/key-manager"
BASE = ROOT + "/v1"


def install(app: FastAPI) -> None:
    """Mount the routes and answer their errors in Barbican's body shape."""

    @app.exception_handler(uc.BarbicanError)
    async def _barbican_error(_request: Request, exc: uc.BarbicanError) -> JSONResponse:
        body = {"code": exc.code, "title": exc.title, "description": exc.description}
        return JSONResponse(body, status_code=exc.code)

    app.include_router(router)


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/") + BASE


def secret_view(secret: Secret, base: str) -> dict[str, Any]:
    ref = f"{base}/secrets/{secret.id}"
    return {
        "secret_ref": ref,
        "name": secret.name,
        "status": "ACTIVE",
        "secret_type": secret.secret_type,
        "algorithm": secret.algorithm,
        "bit_length": secret.bit_length,
        "mode": secret.mode,
        "expiration": ts(secret.expiration),
        "content_types": {"default": secret.content_type} if secret.content_type else None,
        "creator_id": secret.creator_id,
        "created": ts(secret.created_at),
        "updated": ts(secret.updated_at or secret.created_at),
    }


def container_view(container: SecretContainer, base: str) -> dict[str, Any]:
    return {
        "container_ref": f"{base}/containers/{container.id}",
        "name": container.name,
        "type": container.type,
        "status": "ACTIVE",
        "secret_refs": [
            {"name": s["name"], "secret_ref": f"{base}/secrets/{s['secret_id']}"}
            for s in container.secret_refs
        ],
        "consumers": [],
        "creator_id": container.creator_id,
        "created": ts(container.created_at),
        "updated": ts(container.updated_at or container.created_at),
    }


def _links(url: str, total: int, limit: int, offset: int) -> dict[str, str]:
    out: dict[str, str] = {}
    if offset + limit < total:
        out["next"] = f"{url}?limit={limit}&offset={offset + limit}"
    if offset > 0:
        out["previous"] = f"{url}?limit={limit}&offset={max(0, offset - limit)}"
    return out


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "").lower()
    return not accept or "json" in accept or accept.strip() == "*/*"


@router.get(ROOT)
@router.get(ROOT + "/")
def versions(request: Request) -> JSONResponse:
    href = str(request.base_url).rstrip("/") + BASE + "/"
    version = {
        "id": "v1",
        "status": "stable",
        "updated": "2015-04-28T00:00:00Z",
        "links": [{"rel": "self", "href": href}],
        "media-types": [
            {"base": "application/json", "type": "application/vnd.openstack.key-manager-v1+json"}
        ],
        "min_version": "1.0",
        "max_version": "1.0",
    }
    return JSONResponse({"versions": {"values": [version]}}, status_code=300)


@router.get(BASE)
@router.get(BASE + "/")
def version_v1(request: Request) -> JSONResponse:
    href = str(request.base_url).rstrip("/") + BASE + "/"
    return JSONResponse(
        {"version": {"id": "v1", "status": "stable", "links": [{"rel": "self", "href": href}]}}
    )


# -- secrets ----------------------------------------------------------------------------------
@router.post(BASE + "/secrets")
@router.post(BASE + "/secrets/")
async def store_secret(
    request: Request, svc: Services = Depends(services), ctx: RequestContext = Depends(context)
) -> JSONResponse:
    body = await _json(request)
    with svc.db.session() as s:
        secret = uc.store_secret(svc, s, ctx, body)
        ref = f"{base_url(request)}/secrets/{secret.id}"
    return JSONResponse({"secret_ref": ref}, status_code=201)


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as exc:
        raise uc.BarbicanError(400, "Bad Request", "Malformed JSON") from exc
    if not isinstance(body, dict):
        raise uc.BarbicanError(400, "Bad Request", "Malformed JSON")
    return body


@router.get(BASE + "/secrets")
@router.get(BASE + "/secrets/")
def list_secrets(
    request: Request, svc: Services = Depends(services), ctx: RequestContext = Depends(context)
) -> JSONResponse:
    params = dict(request.query_params)
    with svc.db.read() as s:
        rows, total, limit, offset = uc.list_secrets(s, ctx, params)
        base = base_url(request)
        items = [secret_view(x, base) for x in rows]
    out: dict[str, Any] = {"secrets": items, "total": total}
    out.update(_links(f"{base}/secrets", total, limit, offset))
    return JSONResponse(out)


@router.get(BASE + "/secrets/{secret_id}")
def get_secret(
    secret_id: str,
    request: Request,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
) -> Response:
    if not _wants_json(request):
        return get_payload(secret_id, svc, ctx)
    with svc.db.read() as s:
        view = secret_view(uc.get_secret(s, ctx, secret_id), base_url(request))
    return JSONResponse(view)


@router.get(BASE + "/secrets/{secret_id}/payload")
def get_payload(
    secret_id: str, svc: Services = Depends(services), ctx: RequestContext = Depends(context)
) -> Response:
    with svc.db.read() as s:
        data, content_type = uc.payload(svc, s, ctx, secret_id)
    return Response(data, media_type=content_type)


@router.put(BASE + "/secrets/{secret_id}", status_code=204)
async def put_payload(
    secret_id: str,
    request: Request,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
) -> Response:
    data = await request.body()
    content_type = request.headers.get("content-type", "application/octet-stream")
    if request.headers.get("content-encoding", "").lower() == "base64":
        data = uc.decode_payload(data.decode(), "application/octet-stream", "base64")
    with svc.db.session() as s:
        uc.put_payload(svc, s, ctx, secret_id, data, content_type)
    return Response(status_code=204)


@router.delete(BASE + "/secrets/{secret_id}", status_code=204)
def delete_secret(
    secret_id: str, svc: Services = Depends(services), ctx: RequestContext = Depends(context)
) -> Response:
    with svc.db.session() as s:
        uc.delete_secret(s, ctx, secret_id)
    return Response(status_code=204)


# -- containers -------------------------------------------------------------------------------
@router.post(BASE + "/containers")
@router.post(BASE + "/containers/")
async def create_container(
    request: Request, svc: Services = Depends(services), ctx: RequestContext = Depends(context)
) -> JSONResponse:
    body = await _json(request)
    with svc.db.session() as s:
        container = uc.create_container(s, ctx, body)
        ref = f"{base_url(request)}/containers/{container.id}"
    return JSONResponse({"container_ref": ref}, status_code=201)


@router.get(BASE + "/containers")
@router.get(BASE + "/containers/")
def list_containers(
    request: Request, svc: Services = Depends(services), ctx: RequestContext = Depends(context)
) -> JSONResponse:
    with svc.db.read() as s:
        rows, total, limit, offset = uc.list_containers(s, ctx, dict(request.query_params))
        base = base_url(request)
        items = [container_view(x, base) for x in rows]
    out: dict[str, Any] = {"containers": items, "total": total}
    out.update(_links(f"{base}/containers", total, limit, offset))
    return JSONResponse(out)


@router.get(BASE + "/containers/{container_id}")
def get_container(
    container_id: str,
    request: Request,
    svc: Services = Depends(services),
    ctx: RequestContext = Depends(context),
) -> JSONResponse:
    with svc.db.read() as s:
        view = container_view(uc.get_container(s, ctx, container_id), base_url(request))
    return JSONResponse(view)


@router.delete(BASE + "/containers/{container_id}", status_code=204)
def delete_container(
    container_id: str, svc: Services = Depends(services), ctx: RequestContext = Depends(context)
) -> Response:
    with svc.db.session() as s:
        uc.delete_container(s, ctx, container_id)
    return Response(status_code=204)
