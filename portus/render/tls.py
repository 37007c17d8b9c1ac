"""TLS words of a HAProxy frontend: the ``bind ... ssl`` options and the HTTPS-only rules."""

from __future__ import annotations

from portus.ir.model import FrontendTlsIR
from portus.render.quoting import hap_word


def bind_tls_words(tls: FrontendTlsIR) -> str:
    """``ssl crt-list <file> [ca-file .. verify ..] [crl-file ..] [ciphers ..] [ssl-*-ver ..]
    [alpn ..]``, appended to every bind of the frontend."""
    words = ["ssl", f"crt-list {hap_word(tls.crt_list)}"]
    if tls.ca_file:
        words.append(f"ca-file {hap_word(tls.ca_file)}")
    words.append(f"verify {tls.verify}")
    if tls.crl_file:
        words.append(f"crl-file {hap_word(tls.crl_file)}")
    if tls.ciphers:
        words.append(f"ciphers {hap_word(tls.ciphers)}")
    if tls.versions:
        words.append(f"ssl-min-ver {tls.versions[0]}")
        words.append(f"ssl-max-ver {tls.versions[-1]}")
    if tls.alpn:
        words.append("alpn " + ",".join(tls.alpn))
    return " ".join(words)


def frontend_tls_lines(tls: FrontendTlsIR) -> list[str]:
    """Plain-HTTP requests are redirected (a no-op on TLS-only binds, kept as Octavia does),
    and HSTS is set on every response when configured."""
    lines = ["redirect scheme https if !{ ssl_fc }"]
    if tls.hsts:
        lines.append(f'http-response set-header Strict-Transport-Security "{tls.hsts}"')
    return lines
