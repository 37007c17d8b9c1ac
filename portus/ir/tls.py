"""TLS decisions for the IR: TERMINATED_HTTPS frontends and where certificate files live.

* Certificate files are named after their ref (``tls-<sha256(ref)[:16]>.pem``), so a rotated
  container ref gets a new file, a changed crt-list, and a seamless reload; an unchanged ref
  changes nothing.
* One crt-list per listener (``<listener_id>.crtlist``): the default certificate first (it
  answers clients without or with an unknown SNI name), then the SNI certificates; HAProxy
  picks among them by the names in each certificate. Without a default, the first SNI
  certificate is the default, as in Octavia.
* ``client_authentication`` NONE / OPTIONAL / MANDATORY -> ``verify none|optional|required``
  with the client CA (``<listener_id>-client-ca.pem``) and CRL (``-client-crl.pem``).
* ``tls_versions`` -> ``ssl-min-ver``/``ssl-max-ver`` (a gap in the list is closed);
  ``alpn_protocols`` -> ``alpn``; HSTS -> ``Strict-Transport-Security`` on every response.
* X-SSL-Client-* insert headers carry HAProxy's ``ssl_c_*`` fetches to the members.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from portus import constants
from portus.ir.desired import AmphoraLayout, ListenerSpec, PoolSpec
from portus.ir.model import FrontendTlsIR, HeaderIR

HAPROXY_TLS_NAMES = {
    "SSLv3": "SSLv3",
    "TLSv1": "TLSv1.0",
    "TLSv1.1": "TLSv1.1",
    "TLSv1.2": "TLSv1.2",
    "TLSv1.3": "TLSv1.3",
}
_VERIFY = {"NONE": "none", "OPTIONAL": "optional", "MANDATORY": "required"}
SSL_HEADER_VALUES = {
    "x-ssl-client-verify": ("X-SSL-Client-Verify", "%[ssl_c_verify]"),
    "x-ssl-client-has-cert": ("X-SSL-Client-Has-Cert", "%[ssl_c_used]"),
    "x-ssl-client-dn": ("X-SSL-Client-DN", "%{+Q}[ssl_c_s_dn]"),
    "x-ssl-client-cn": ("X-SSL-Client-CN", "%{+Q}[ssl_c_s_dn(cn)]"),
    "x-ssl-issuer": ("X-SSL-Issuer", "%{+Q}[ssl_c_i_dn]"),
    "x-ssl-client-sha1": ("X-SSL-Client-SHA1", "%{+Q}[ssl_c_sha1,hex]"),
    "x-ssl-client-not-before": ("X-SSL-Client-Not-Before", "%{+Q}[ssl_c_notbefore]"),
    "x-ssl-client-not-after": ("X-SSL-Client-Not-After", "%{+Q}[ssl_c_notafter]"),
}


@dataclass(frozen=True)
class CertFile:
    """One file to ship into the cert dir: ``kind`` says what the ref must resolve to.

    ``server`` (combined cert+chain+key PEM), ``ca`` (PEM certificates), ``crl`` (PEM CRL,
    checked against ``ca_ref``).
    """

    name: str
    kind: str
    ref: str
    ca_ref: str | None = None


def cert_file_name(ref: str) -> str:
    return "tls-" + hashlib.sha256(ref.encode()).hexdigest()[:16] + ".pem"


def crt_list_name(listener_id: str) -> str:
    return f"{listener_id}.crtlist"


def server_refs(listener: ListenerSpec) -> tuple[str, ...]:
    """Default first, then SNI certificates, each once."""
    refs: list[str] = []
    for ref in (listener.default_tls_container_ref, *listener.sni_container_refs):
        if ref and ref not in refs:
            refs.append(ref)
    return tuple(refs)


def version_bounds(versions: tuple[str, ...] | None) -> tuple[str | None, str | None]:
    allowed = set(versions or constants.DEFAULT_TLS_VERSIONS)
    names = [HAPROXY_TLS_NAMES[v] for v in HAPROXY_TLS_NAMES if v in allowed]
    return (names[0], names[-1]) if names else (None, None)


def listener_files(listener: ListenerSpec) -> tuple[CertFile, ...]:
    """The files a TERMINATED_HTTPS listener needs in the cert dir (crt-list aside)."""
    if listener.protocol != "TERMINATED_HTTPS":
        return ()
    out = [CertFile(cert_file_name(ref), "server", ref) for ref in server_refs(listener)]
    ca = listener.client_ca_tls_container_ref
    if ca:
        out.append(CertFile(f"{listener.id}-client-ca.pem", "ca", ca))
        if listener.client_crl_container_ref:
            out.append(
                CertFile(
                    f"{listener.id}-client-crl.pem", "crl", listener.client_crl_container_ref, ca
                )
            )
    return tuple(out)


def pool_files(pool: PoolSpec) -> tuple[CertFile, ...]:
    """Re-encryption files; names match ``portus.ir.backend`` (``<pool_id>-ca.pem`` ...)."""
    if not pool.tls_enabled:
        return ()
    out: list[CertFile] = []
    if pool.tls_container_ref:
        out.append(CertFile(f"{pool.id}-client.pem", "server", pool.tls_container_ref))
    if pool.ca_tls_container_ref:
        out.append(CertFile(f"{pool.id}-ca.pem", "ca", pool.ca_tls_container_ref))
        if pool.crl_container_ref:
            out.append(
                CertFile(
                    f"{pool.id}-crl.pem", "crl", pool.crl_container_ref, pool.ca_tls_container_ref
                )
            )
    return tuple(out)


def crt_list_text(listener: ListenerSpec, layout: AmphoraLayout) -> str:
    """The crt-list file: one absolute certificate path per line, default first."""
    return "".join(f"{layout.cert_dir}/{cert_file_name(r)}\n" for r in server_refs(listener))


def _hsts(listener: ListenerSpec) -> str | None:
    if listener.hsts_max_age is None:
        return None
    value = f"max-age={listener.hsts_max_age};"
    if listener.hsts_include_subdomains:
        value += " includeSubDomains;"
    if listener.hsts_preload:
        value += " preload;"
    return value


def frontend_tls(listener: ListenerSpec, layout: AmphoraLayout) -> FrontendTlsIR | None:
    """TLS termination settings of a TERMINATED_HTTPS listener (None otherwise or no cert)."""
    if listener.protocol != "TERMINATED_HTTPS" or not server_refs(listener):
        return None
    ca = listener.client_ca_tls_container_ref
    verify = _VERIFY.get(listener.client_authentication, "none") if ca else "none"
    return FrontendTlsIR(
        crt_list=f"{layout.cert_dir}/{crt_list_name(listener.id)}",
        ca_file=f"{layout.cert_dir}/{listener.id}-client-ca.pem" if ca else None,
        crl_file=(
            f"{layout.cert_dir}/{listener.id}-client-crl.pem"
            if ca and listener.client_crl_container_ref
            else None
        ),
        verify=verify,
        ciphers=listener.tls_ciphers,
        versions=tuple(v for v in version_bounds(listener.tls_versions) if v),
        alpn=tuple(listener.alpn_protocols or ()),
        hsts=_hsts(listener),
    )


def ssl_headers(listener: ListenerSpec) -> tuple[HeaderIR, ...]:
    """X-SSL-Client-* headers enabled (value ``"true"``) on a TERMINATED_HTTPS listener."""
    if listener.protocol != "TERMINATED_HTTPS":
        return ()
    wanted = {k.lower() for k, v in listener.insert_headers if v.strip().lower() == "true"}
    return tuple(
        HeaderIR(name, value) for key, (name, value) in SSL_HEADER_VALUES.items() if key in wanted
    )
