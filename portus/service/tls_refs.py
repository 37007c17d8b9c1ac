"""Certificate refs on listeners and pools must resolve to usable material (400 otherwise).

Checked at create/update time, not discovered at reload: every new or changed ref is fetched
through the configured store (built-in or Barbican) and parsed; a server or client certificate
must carry its key, match it and be valid now; a CA must be PEM X509; a CRL must be PEM and
signed by the CA it comes with. LBs of the noop provider build nothing, so their refs are
accepted as given (as the tests of API shape rely on).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.orm import Session

from portus.db.models import LoadBalancer
from portus.db.secretstore import reader_for
from portus.drivers import certs
from portus.service.common import Services
from portus.service.errors import ApiError

NOOP = "noop"


class CertificateRetrievalFailure(ApiError):
    def __init__(self, ref: str) -> None:
        super().__init__(f"Could not retrieve certificate: ['{ref}']")


class InvalidCertificate(ApiError):
    def __init__(self, ref: str, reason: str) -> None:
        super().__init__(f"Invalid certificate {ref}: {reason}")


def _changed(state: Mapping[str, Any], old: Mapping[str, Any], field: str) -> bool:
    return bool(state.get(field)) and state.get(field) != old.get(field)


def _guard(ref: str, check: Callable[[], object]) -> None:
    try:
        check()
    except certs.CertRetrievalError as exc:
        raise CertificateRetrievalFailure(ref) from exc
    except certs.CertError as exc:
        raise InvalidCertificate(ref, str(exc)) from exc


def _now(svc: Services) -> dt.datetime:
    return dt.datetime.fromtimestamp(svc.clock(), dt.UTC)


def _check_server(reader: certs.SecretReader, ref: str, now: dt.datetime) -> None:
    _guard(ref, lambda: certs.check_server_bundle(certs.resolve_tls(reader, ref), now))


def _check_ca_crl(
    reader: certs.SecretReader, ca_ref: str | None, crl_ref: str | None, check_crl: bool
) -> None:
    if not ca_ref:
        return
    holder: dict[str, bytes] = {}

    def ca() -> None:
        holder["ca"] = certs.resolve_pem(reader, ca_ref)
        certs.load_ca(holder["ca"])

    _guard(ca_ref, ca)
    if crl_ref and check_crl:
        _guard(crl_ref, lambda: certs.load_crl(certs.resolve_pem(reader, crl_ref), holder["ca"]))


def check_listener(
    svc: Services,
    session: Session,
    lb: LoadBalancer,
    state: Mapping[str, Any],
    old: Mapping[str, Any] | None = None,
) -> None:
    """Resolve and check every cert ref of a listener that is new in ``state``."""
    if (lb.provider or svc.settings.provider) == NOOP:
        return
    before = old or {}
    reader = reader_for(session, svc.settings, lb.project_id)
    now = _now(svc)
    refs: list[str] = []
    if _changed(state, before, "default_tls_container_ref"):
        refs.append(str(state["default_tls_container_ref"]))
    old_sni = set(before.get("sni_container_refs") or [])
    refs += [str(r) for r in state.get("sni_container_refs") or [] if r not in old_sni]
    for ref in refs:
        _check_server(reader, ref, now)
    ca_changed = _changed(state, before, "client_ca_tls_container_ref")
    if ca_changed or _changed(state, before, "client_crl_container_ref"):
        _check_ca_crl(
            reader,
            state.get("client_ca_tls_container_ref"),
            state.get("client_crl_container_ref"),
            True,
        )


def check_pool(
    svc: Services,
    session: Session,
    lb: LoadBalancer,
    state: Mapping[str, Any],
    old: Mapping[str, Any] | None = None,
) -> None:
    """The pool's client certificate, CA and CRL for re-encryption, when new in ``state``."""
    if (lb.provider or svc.settings.provider) == NOOP:
        return
    before = old or {}
    reader = reader_for(session, svc.settings, lb.project_id)
    if _changed(state, before, "tls_container_ref"):
        _check_server(reader, str(state["tls_container_ref"]), _now(svc))
    if _changed(state, before, "ca_tls_container_ref") or _changed(
        state, before, "crl_container_ref"
    ):
        _check_ca_crl(
            reader, state.get("ca_tls_container_ref"), state.get("crl_container_ref"), True
        )
