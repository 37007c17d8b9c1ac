"""Rows of the built-in key manager, encrypted payloads in and out, and the cert reader factory.

``LocalReader`` reads refs from these tables (scoped to one project); ``reader_for`` picks the
configured backend: ``PORTUS_CERT_BACKEND=local`` (default) or ``barbican`` with
``PORTUS_BARBICAN_ENDPOINT`` (and ``PORTUS_BARBICAN_TOKEN`` when it needs one). Both the API
(validation at create/update) and the reconciler (files for amphorae) read through it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from sqlalchemy.orm import Session

from portus.config import Settings
from portus.db.models import Secret, SecretContainer
from portus.drivers import secretbox
from portus.drivers.barbican import BarbicanReader
from portus.drivers.certs import CertRetrievalError, SecretReader
from portus.drivers.secretbox import SecretBox, SecretBoxError

BACKEND_ENV = "PORTUS_CERT_BACKEND"
ENDPOINT_ENV = "PORTUS_BARBICAN_ENDPOINT"
TOKEN_ENV = "PORTUS_BARBICAN_TOKEN"


def ref_id(ref: str) -> str:
    """The uuid at the end of a secret or container ref (a full URL or a bare id)."""
    return ref.rstrip("/").rsplit("/", 1)[-1]


def box_for(settings: Settings) -> SecretBox:
    return secretbox.for_state_dir(settings.state_dir)


def seal(box: SecretBox, payload: bytes) -> str:
    return box.encrypt(payload).decode("ascii")


def unseal(box: SecretBox, secret: Secret) -> bytes:
    if secret.payload is None:
        return b""
    return box.decrypt(secret.payload.encode("ascii"))


def _visible(row: Secret | SecretContainer, project_id: str | None) -> bool:
    return project_id is None or row.project_id == project_id


def find_secret(session: Session, ref: str, project_id: str | None) -> Secret | None:
    row = session.get(Secret, ref_id(ref))
    return row if row is not None and _visible(row, project_id) else None


def find_container(session: Session, ref: str, project_id: str | None) -> SecretContainer | None:
    row = session.get(SecretContainer, ref_id(ref))
    return row if row is not None and _visible(row, project_id) else None


class LocalReader:
    """``SecretReader`` over this database; ``project_id=None`` reads any project (admin)."""

    def __init__(self, session: Session, box: SecretBox, project_id: str | None) -> None:
        self.session = session
        self.box = box
        self.project_id = project_id

    def secret(self, ref: str) -> bytes:
        row = find_secret(self.session, ref, self.project_id)
        if row is None or row.payload is None:
            raise CertRetrievalError(ref, "no such secret")
        try:
            return unseal(self.box, row)
        except SecretBoxError as exc:
            raise CertRetrievalError(ref, str(exc)) from exc

    def container(self, ref: str) -> dict[str, str]:
        row = find_container(self.session, ref, self.project_id)
        if row is None:
            raise CertRetrievalError(ref, "no such container")
        return {str(s["name"]): str(s["secret_id"]) for s in row.secret_refs}


class CachingReader:
    """Reads each ref once (one reconcile or one request fetches a cert only once)."""

    def __init__(self, inner: SecretReader) -> None:
        self.inner = inner
        self._secrets: dict[str, bytes] = {}
        self._containers: dict[str, dict[str, str]] = {}

    def secret(self, ref: str) -> bytes:
        if ref not in self._secrets:
            self._secrets[ref] = self.inner.secret(ref)
        return self._secrets[ref]

    def container(self, ref: str) -> dict[str, str]:
        if ref not in self._containers:
            self._containers[ref] = self.inner.container(ref)
        return dict(self._containers[ref])


def reader_for(
    session: Session,
    settings: Settings,
    project_id: str | None,
    env: Mapping[str, str] | None = None,
) -> SecretReader:
    """The configured certificate backend, cached for the life of the returned object."""
    e = os.environ if env is None else env
    backend = e.get(BACKEND_ENV, "local").lower()
    if backend == "barbican":
        endpoint = e.get(ENDPOINT_ENV)
        if not endpoint:
            raise ValueError(f"{BACKEND_ENV}=barbican needs {ENDPOINT_ENV}")
        return CachingReader(BarbicanReader(endpoint, e.get(TOKEN_ENV) or None))
    return CachingReader(LocalReader(session, box_for(settings), project_id))
