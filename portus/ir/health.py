"""Health monitors -> checks (HAProxy server checks, or the agent's UDP/SCTP checker).

Choices, recorded here because they differ from or sharpen Octavia:

* ``delay`` -> ``inter`` seconds, ``timeout`` -> ``timeout check``, ``max_retries`` -> ``rise``,
  ``max_retries_down`` -> ``fall``; zero delay/timeout become 1 s (HAProxy needs > 0).
* TLS-HELLO and HTTPS check over TLS (``check-ssl verify none``): a TLS-HELLO monitor really
  does a TLS handshake instead of Octavia's plain TCP connect.
* PING uses HAProxy's ``external-check`` with a small ping wrapper at ``layout.ping_script``
  (rendered by ``portus.render.scripts``); HAProxy itself cannot send ICMP.
* ``expected_codes`` ``"200"`` -> ``http-check expect status 200``; lists and ranges
  (``"200,202"``, ``"200-204"``) -> an anchored ``rstatus`` regex.
"""

from __future__ import annotations

from portus.ir.desired import AmphoraLayout, HealthMonitorSpec
from portus.ir.model import HealthCheckIR

HAPROXY_CHECK_TYPES = ("HTTP", "HTTPS", "PING", "TCP", "TLS-HELLO")
L4_CHECK_TYPES = ("UDP-CONNECT", "SCTP", "TCP", "HTTP")


def expected_codes(codes: str | None) -> tuple[str, str]:
    """``expected_codes`` as an ``http-check expect`` (kind, pattern) pair."""
    text = (codes or "200").replace(" ", "")
    parts: list[str] = []
    for item in text.split(","):
        if "-" in item:
            low, high = (int(x) for x in item.split("-", 1))
            parts.extend(str(code) for code in range(low, high + 1))
        elif item:
            parts.append(item)
    if len(parts) == 1:
        return ("status", parts[0])
    return ("rstatus", "^(" + "|".join(parts) + ")$")


def translate_health(
    hm: HealthMonitorSpec | None, layout: AmphoraLayout, *, l4: bool = False
) -> HealthCheckIR | None:
    """The checks for an enabled monitor, or ``None`` (no monitor: members never checked)."""
    if hm is None or not hm.admin_state_up:
        return None
    if hm.type not in (L4_CHECK_TYPES if l4 else HAPROXY_CHECK_TYPES):
        return None
    is_http = hm.type in ("HTTP", "HTTPS")
    version = None
    if is_http and hm.http_version is not None:
        version = f"HTTP/{hm.http_version:.1f}"
    host = hm.domain_name if is_http else None
    if host and version is None:
        version = "HTTP/1.1"  # a Host header needs HTTP/1.1
    return HealthCheckIR(
        kind=hm.type,
        inter_s=max(hm.delay, 1),
        timeout_s=max(hm.timeout, 1),
        rise=hm.max_retries,
        fall=hm.max_retries_down,
        http_method=(hm.http_method or "GET") if is_http else None,
        url_path=(hm.url_path or "/") if is_http else None,
        http_version=version,
        host=host,
        expect=expected_codes(hm.expected_codes) if is_http else None,
        check_ssl=hm.type in ("HTTPS", "TLS-HELLO"),
        external_command=layout.ping_script if hm.type == "PING" else None,
    )
