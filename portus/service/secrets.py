"""The built-in key manager's use cases: Barbican v1 secrets and containers, project-scoped.

Only the subset load-balancer users touch (store, list, get, payload, delete; certificate and
generic containers). Payloads are stored encrypted (``portus.db.secretstore``); a project only
ever sees its own secrets, as in Barbican (admins may read any, which Octavia's service user
needs). Refs are full URLs under the caller's ``/key-manager/v1``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portus.db import secretstore as store
from portus.db.models import Secret, SecretContainer, utcnow
from portus.service.common import Services
from portus.service.errors import ApiError, Forbidden
from portus.service.policy import RequestContext

SECRET_TYPES = ("symmetric", "public", "private", "passphrase", "certificate", "opaque")
CONTAINER_TYPES = ("generic", "rsa", "certificate")
CONTAINER_NAMES = {
    "certificate": (
        {"certificate"},
        {"certificate", "private_key", "private_key_passphrase", "intermediates"},
    ),
    "rsa": ({"private_key", "public_key"}, {"private_key", "public_key", "private_key_passphrase"}),
}
MAX_PAYLOAD = 64 * 1024


class BarbicanError(ApiError):
    """An error the key-manager routes show in Barbican's shape (``title``/``description``)."""

    def __init__(self, code: int, title: str, description: str) -> None:
        super().__init__(description, code)
        self.title = title
        self.description = description


def _bad(description: str) -> BarbicanError:
    return BarbicanError(400, "Bad Request", description)


def _not_found(what: str) -> BarbicanError:
    return BarbicanError(404, "Not Found", f"{what} not found.")


def _project(ctx: RequestContext) -> str:
    if ctx.project_id is None:
        raise Forbidden("A project scoped token is required to use the key manager.")
    return ctx.project_id


def _scope(ctx: RequestContext) -> str | None:
    """None (any project) for admins, else the caller's project."""
    return None if ctx.is_admin else _project(ctx)


def decode_payload(payload: Any, content_type: str | None, encoding: str | None) -> bytes:
    """The bytes of a sent payload (text as UTF-8, or base64 for binary content)."""
    if payload is None or payload == "":
        raise _bad("If 'payload' specified, must be non empty")
    if not isinstance(payload, str):
        raise _bad("'payload' must be a string")
    if encoding is not None and encoding.lower() != "base64":
        raise _bad(f"Invalid payload content encoding: {encoding}")
    if encoding or (content_type or "").startswith("application/"):
        try:
            data = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError) as exc:
            if encoding:
                raise _bad("Problem decoding payload: not base64") from exc
            data = payload.encode()
    else:
        data = payload.encode()
    if len(data) > MAX_PAYLOAD:
        raise BarbicanError(413, "Request Entity Too Large", "Secret payload is too large.")
    return data


def _expiration(raw: Any) -> dt.datetime | None:
    if not raw:
        return None
    try:
        value = dt.datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError as exc:
        raise _bad(f"Invalid expiration: {raw}") from exc
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    if value < utcnow():
        raise _bad("'expiration' is before current time")
    return value


def store_secret(
    svc: Services, session: Session, ctx: RequestContext, body: dict[str, Any]
) -> Secret:
    project = _project(ctx)
    secret_type = str(body.get("secret_type") or "opaque")
    if secret_type not in SECRET_TYPES:
        raise _bad(f"Invalid secret_type: {secret_type}")
    content_type = body.get("payload_content_type")
    secret = Secret(
        project_id=project,
        name=body.get("name") or None,
        secret_type=secret_type,
        algorithm=body.get("algorithm"),
        bit_length=body.get("bit_length"),
        mode=body.get("mode"),
        expiration=_expiration(body.get("expiration")),
        creator_id=ctx.user_id,
    )
    if "payload" in body and body["payload"] is not None:
        if not content_type:
            raise _bad("If 'payload' is supplied, 'payload_content_type' must be supplied.")
        data = decode_payload(body["payload"], content_type, body.get("payload_content_encoding"))
        secret.content_type = str(content_type).split(";")[0].strip()
        secret.payload = store.seal(store.box_for(svc.settings), data)
    session.add(secret)
    session.flush()
    return secret


def put_payload(
    svc: Services,
    session: Session,
    ctx: RequestContext,
    secret_id: str,
    data: bytes,
    content_type: str,
) -> None:
    """The second step of a two-step store; a payload, once set, is immutable (409)."""
    secret = get_secret(session, ctx, secret_id)
    if secret.payload is not None:
        raise BarbicanError(409, "Conflict", "Secret already has data, cannot modify it.")
    if not data:
        raise _bad("No payload provided")
    secret.content_type = content_type.split(";")[0].strip() or "application/octet-stream"
    secret.payload = store.seal(store.box_for(svc.settings), data)
    secret.updated_at = utcnow()


def get_secret(session: Session, ctx: RequestContext, secret_id: str) -> Secret:
    secret = store.find_secret(session, secret_id, _scope(ctx))
    if secret is None:
        raise _not_found("Secret")
    return secret


def payload(
    svc: Services, session: Session, ctx: RequestContext, secret_id: str
) -> tuple[bytes, str]:
    secret = get_secret(session, ctx, secret_id)
    if secret.payload is None:
        raise _not_found("Secret payload")
    return store.unseal(
        store.box_for(svc.settings), secret
    ), secret.content_type or "application/octet-stream"


def delete_secret(session: Session, ctx: RequestContext, secret_id: str) -> None:
    session.delete(get_secret(session, ctx, secret_id))


def _page(params: dict[str, str]) -> tuple[int, int]:
    try:
        limit = max(0, min(int(params.get("limit", 10)), 100))
        offset = max(0, int(params.get("offset", 0)))
    except ValueError as exc:
        raise _bad("limit and offset must be integers") from exc
    return limit, offset


def list_secrets(
    session: Session, ctx: RequestContext, params: dict[str, str]
) -> tuple[list[Secret], int, int, int]:
    """(page, total, limit, offset); filters: ``name``, ``secret_type``."""
    limit, offset = _page(params)
    stmt = select(Secret).where(Secret.project_id == _project(ctx))
    if params.get("name"):
        stmt = stmt.where(Secret.name == params["name"])
    if params.get("secret_type"):
        stmt = stmt.where(Secret.secret_type == params["secret_type"])
    total = int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    rows = list(
        session.scalars(stmt.order_by(Secret.created_at, Secret.id).limit(limit).offset(offset))
    )
    return rows, total, limit, offset


# -- containers -------------------------------------------------------------------------------
def create_container(
    session: Session, ctx: RequestContext, body: dict[str, Any]
) -> SecretContainer:
    project = _project(ctx)
    ctype = str(body.get("type") or "generic")
    if ctype not in CONTAINER_TYPES:
        raise _bad(f"Invalid container type: {ctype}")
    refs: list[dict[str, str]] = []
    seen: set[str] = set()
    for item in body.get("secret_refs") or []:
        if not isinstance(item, dict) or not item.get("secret_ref"):
            raise _bad("Each secret_refs entry needs a secret_ref")
        name = str(item.get("name") or "")
        if name in seen:
            raise _bad(f"Duplicate reference names are not allowed: {name}")
        seen.add(name)
        secret = store.find_secret(session, str(item["secret_ref"]), project)
        if secret is None:
            raise _bad(f"Secret provided for '{name}' doesn't exist.")
        refs.append({"name": name, "secret_id": secret.id})
    if ctype in CONTAINER_NAMES:
        required, allowed = CONTAINER_NAMES[ctype]
        if not required <= seen:
            raise _bad(f"A {ctype} container requires: {', '.join(sorted(required))}")
        if not seen <= allowed:
            raise _bad(f"Invalid names in a {ctype} container: {', '.join(sorted(seen - allowed))}")
    container = SecretContainer(
        project_id=project,
        name=body.get("name") or None,
        type=ctype,
        secret_refs=refs,
        creator_id=ctx.user_id,
    )
    session.add(container)
    session.flush()
    return container


def get_container(session: Session, ctx: RequestContext, container_id: str) -> SecretContainer:
    container = store.find_container(session, container_id, _scope(ctx))
    if container is None:
        raise _not_found("Container")
    return container


def delete_container(session: Session, ctx: RequestContext, container_id: str) -> None:
    session.delete(get_container(session, ctx, container_id))


def list_containers(
    session: Session, ctx: RequestContext, params: dict[str, str]
) -> tuple[list[SecretContainer], int, int, int]:
    limit, offset = _page(params)
    stmt = select(SecretContainer).where(SecretContainer.project_id == _project(ctx))
    if params.get("name"):
        stmt = stmt.where(SecretContainer.name == params["name"])
    if params.get("type"):
        stmt = stmt.where(SecretContainer.type == params["type"])
    total = int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    rows = list(
        session.scalars(
            stmt.order_by(SecretContainer.created_at, SecretContainer.id)
            .limit(limit)
            .offset(offset)
        )
    )
    return rows, total, limit, offset
