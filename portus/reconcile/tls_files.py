"""Certificate files for an LB's amphorae, fetched once per reconcile through the cert store.

``collect`` runs in the reconcile's DB half (it may read the built-in store's tables) and
resolves every ref the LB's TLS listeners and re-encrypting pools use, each once; ``files_for``
turns that into the agent's ``RenderedFiles.files`` for one amphora layout, crt-lists included.
A store that cannot be read falls back on the files last shipped for the same refs
(``portus.reconcile.tls_cache``), so a failover or rebuild does not wait on the store; only a
ref never fetched before is a temporary error, and the amphora keeps serving what it has.
Deleting an LB never reads the store.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.orm import Session

from portus.config import Settings
from portus.db.models import LoadBalancer
from portus.db.secretstore import box_for, reader_for
from portus.db.spec import lb_spec
from portus.drivers import certs
from portus.ir.desired import AmphoraLayout, LoadBalancerSpec
from portus.ir.tls import CertFile, crt_list_name, crt_list_text, listener_files, pool_files
from portus.reconcile import tls_cache
from portus.reconcile.errors import PermanentError, TemporaryError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TlsMaterial:
    """File name (inside the cert dir) -> PEM text, for every certificate the LB needs."""

    files: tuple[tuple[str, str], ...] = ()


def needed(spec: LoadBalancerSpec) -> tuple[CertFile, ...]:
    out: dict[str, CertFile] = {}
    for listener in spec.listeners:
        for f in listener_files(listener):
            out[f.name] = f
    for pool in spec.pools:
        for f in pool_files(pool):
            out[f.name] = f
    return tuple(out[name] for name in sorted(out))


def _text(reader: certs.SecretReader, f: CertFile) -> str:
    if f.kind == "server":
        return certs.resolve_tls(reader, f.ref).combined_pem()
    if f.kind == "ca":
        return certs.pem_of(certs.load_ca(certs.resolve_pem(reader, f.ref)))
    ca = certs.resolve_pem(reader, f.ca_ref or "")
    return certs.crl_pem(certs.load_crl(certs.resolve_pem(reader, f.ref), ca))


def material_for(spec: LoadBalancerSpec, reader: certs.SecretReader) -> TlsMaterial:
    """Resolve every needed file (pure given the reader; the reader caches per ref)."""
    files: list[tuple[str, str]] = []
    for f in needed(spec):
        try:
            files.append((f.name, _text(reader, f)))
        except certs.CertRetrievalError as exc:
            raise TemporaryError(f"could not retrieve certificate {f.ref}: {exc}") from exc
        except certs.CertError as exc:
            raise PermanentError(f"certificate {f.ref} is unusable: {exc}") from exc
    return TlsMaterial(tuple(files))


def collect(session: Session, lb: LoadBalancer, settings: Settings) -> TlsMaterial:
    """The LB's certificate files from the store, or from the cache while the store is out."""
    spec = lb_spec(lb)
    files = needed(spec)
    if not files:
        return TlsMaterial()
    box = box_for(settings)
    try:
        material = material_for(spec, reader_for(session, settings, lb.project_id))
    except TemporaryError as exc:
        cached = tls_cache.load(settings.state_dir, box, lb.id, files)
        if cached is None:
            raise
        log.warning("lb %s: certificate store unavailable, using cached files: %s", lb.id, exc)
        return TlsMaterial(cached)
    tls_cache.save(settings.state_dir, box, lb.id, files, material.files)
    return material


def forget(settings: Settings, lb_id: str) -> None:
    """The LB is gone: drop its cached certificate files."""
    tls_cache.forget(settings.state_dir, lb_id)


def files_for(
    material: TlsMaterial, spec: LoadBalancerSpec, layout: AmphoraLayout
) -> tuple[tuple[str, str], ...]:
    """``RenderedFiles.files`` for one amphora: the certificates plus one crt-list per
    TERMINATED_HTTPS listener."""
    out = [(f"{layout.cert_dir}/{name}", text) for name, text in material.files]
    for listener in spec.listeners:
        if listener.protocol == "TERMINATED_HTTPS" and listener_files(listener):
            out.append(
                (f"{layout.cert_dir}/{crt_list_name(listener.id)}", crt_list_text(listener, layout))
            )
    return tuple(out)
