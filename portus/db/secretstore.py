"""Rows of the built-in key manager, encrypted payloads in and out, and the cert reader factory.

``LocalReader`` reads refs from these tables (scoped to one project); ``reader_for`` picks the
configured backend (``Settings.cert_backend``): ``local`` (default) or ``barbican`` with
``barbican_endpoint`` (and ``barbican_token`` when it needs one). Both the API (validation at
create/update) and the reconciler (files for amphorae) read through it.
"""

from __future__ import annotations

import threading

from sqlalchemy.orm import Session

from portus.config import Settings
from portus.db.models import Secret, SecretContainer
from portus.drivers import secretbox
from portus.drivers.barbican import BarbicanReader
from portus.drivers.certs import CertRetrievalError, SecretReader
from portus.drivers.secretbox import SecretBox, SecretBoxError

_BARBICAN: dict[tuple[str, str | None], BarbicanReader] = {}
_BARBICAN_LOCK = threading.Lock()


def ref_id(ref: str) -> str:
    """The uuid at the end of a secret or container ref (a full URL or a bare id)."""
    return ref.rstrip("/").rsplit("/", 1)[-1]


def box_for(settings: Settings) -> SecretBox:
    return secretbox.for_state_dir(settings.state_dir, settings.secret_key)


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


def barbican_reader(endpoint: str, token: str | None) -> BarbicanReader:
    """One reader (one HTTP connection pool) per Barbican endpoint and token per process."""
    with _BARBICAN_LOCK:
        reader = _BARBICAN.get((endpoint, token))
        if reader is None:
            reader = _BARBICAN[(endpoint, token)] = BarbicanReader(endpoint, token)
        return reader


def reader_for(session: Session, settings: Settings, project_id: str | None) -> SecretReader:
    """The configured certificate backend, cached for the life of the returned object."""
    if settings.cert_backend == "barbican":
        if not settings.barbican_endpoint:
            raise ValueError("cert_backend barbican needs barbican_endpoint")
        return CachingReader(barbican_reader(settings.barbican_endpoint, settings.barbican_token))
    return CachingReader(LocalReader(session, box_for(settings), project_id))
