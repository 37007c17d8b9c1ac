"""Agent certificate rotation: re-issue the agent's server certificate before it expires.

The agent reads its certificate when its HTTPS server starts, so a rotated file takes effect
at the agent's next restart; the old certificate stays valid for the whole buffer meanwhile.
"""

from __future__ import annotations

import datetime as dt
import logging

from cryptography import x509

from portus.agent import pki

log = logging.getLogger("portus.housekeeping")


def expires_at(cert_pem: bytes) -> dt.datetime:
    return x509.load_pem_x509_certificate(cert_pem).not_valid_after_utc


def needs_rotation(cert_pem: bytes, now: dt.datetime, buffer_seconds: float) -> bool:
    return expires_at(cert_pem) - now <= dt.timedelta(seconds=buffer_seconds)


def sans_of(cert_pem: bytes) -> tuple[str, ...]:
    cert = x509.load_pem_x509_certificate(cert_pem)
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ()
    ips = [str(ip) for ip in ext.get_values_for_type(x509.IPAddress)]
    return (*ips, *ext.get_values_for_type(x509.DNSName))


def rotate_agent_cert(
    paths: pki.PkiPaths, now: dt.datetime, buffer_seconds: float, days: int = pki.DEFAULT_DAYS
) -> bool:
    """Re-issue ``paths.server_cert`` (same name and SANs, new key) if it expires within
    ``buffer_seconds``. True when it did."""
    if not paths.server_cert.exists() or not paths.ca_key.exists():
        return False
    current = paths.server_cert.read_bytes()
    if not needs_rotation(current, now, buffer_seconds):
        return False
    ca = pki.CertKey(paths.ca_cert.read_bytes(), paths.ca_key.read_bytes())
    fresh = pki.issue(
        ca,
        pki.common_name(current) or "portus-agent",
        server=True,
        sans=sans_of(current),
        days=days,
    )
    fresh.write(paths.server_cert, paths.server_key)
    log.info(
        "agent certificate %s rotated (was expiring %s)", paths.server_cert, expires_at(current)
    )
    return True
