"""A pool, as used by one listener, -> one HAProxy backend ``<pool_id>:<listener_id>``.

Decisions taken here:

* mode = the listener's mode (HAProxy needs frontend and backend modes to agree); PROXY and
  PROXYV2 pools add ``send-proxy`` / ``send-proxy-v2`` to every server.
* ROUND_ROBIN -> ``roundrobin``, LEAST_CONNECTIONS -> ``leastconn``, SOURCE_IP -> ``source``,
  SOURCE_IP_PORT -> ``hash src,concat(:,sess.portus_sport)`` after
  ``tcp-request content set-var(sess.portus_sport) src_port``. Hash-based balancing always uses
  ``hash-type consistent``: HAProxy refuses ``add server`` on map-based hashing.
* Persistence: SOURCE_IP -> ``stick-table type ipv6`` + ``stick on src``; APP_COOKIE -> string
  stick table, ``stick store-response res.cook(<name>)`` + ``stick match req.cook(<name>)``;
  HTTP_COOKIE -> ``cookie SRV insert indirect nocache`` + ``cookie <member_id>`` per server.
  Cookie persistence needs ``mode http``; on a TCP listener it is dropped (with a note).
  HAProxy 2.6 refuses ``cookie`` on dynamic servers, so HTTP_COOKIE backends have
  ``dynamic_servers=False``: adding/removing members there needs a reload.
* ``http-reuse`` (default ``always``, dataplane.md §6) for every ``mode http`` backend; HAProxy
  itself keeps PROXY-protocol and NTLM connections private.
* Pool ``tls_versions`` become ``ssl-min-ver``/``ssl-max-ver`` (HAProxy ignores ``no-tlsv1x``
  next to a global ``ssl-min-ver``); a gap in the list cannot be expressed and is closed.
* Re-encryption from a TERMINATED_HTTPS listener passes the client's SNI on (``sni ssl_fc_sni``,
  as Octavia renders), so name-based virtual hosts on the members keep working; with a CA to
  verify against, HAProxy then also checks the member certificate's names against that SNI.
  Other listeners have no client SNI to pass, so no ``sni`` is sent.
* Servers are sorted by member id; disabled members stay in the config as ``disabled`` (so
  enabling them is a runtime-API call), weight 0 renders ``weight 0`` (drain).
"""

from __future__ import annotations

from portus import constants
from portus.ir.desired import AmphoraLayout, ListenerSpec, PoolSpec, RenderOptions
from portus.ir.health import translate_health
from portus.ir.model import BackendIR, PersistenceIR, ServerIR, ServerTlsIR

_BALANCE = {
    "ROUND_ROBIN": ("roundrobin", None, False),
    "LEAST_CONNECTIONS": ("leastconn", None, False),
    "SOURCE_IP": ("source", "consistent", False),
    "SOURCE_IP_PORT": ("hash src,concat(:,sess.portus_sport)", "consistent", True),
}
_SEND_PROXY = {"PROXY": "send-proxy", "PROXYV2": "send-proxy-v2"}
_HAPROXY_TLS_NAME = {
    "SSLv3": "SSLv3",
    "TLSv1": "TLSv1.0",
    "TLSv1.1": "TLSv1.1",
    "TLSv1.2": "TLSv1.2",
    "TLSv1.3": "TLSv1.3",
}
TCP_FAMILY_LISTENER_MODES = {"HTTP": "http", "TERMINATED_HTTPS": "http", "PROMETHEUS": "http"}


def backend_name(pool_id: str, listener_id: str) -> str:
    return f"{pool_id}:{listener_id}"


def listener_mode(listener: ListenerSpec) -> str:
    return TCP_FAMILY_LISTENER_MODES.get(listener.protocol, "tcp")


def connection_limit(listener: ListenerSpec) -> int:
    """``connection_limit`` with -1 resolved to the amphora default (50000)."""
    if listener.connection_limit < 0:
        return constants.DEFAULT_CONNECTION_LIMIT
    return listener.connection_limit


def _server_tls(
    pool: PoolSpec, listener: ListenerSpec, layout: AmphoraLayout
) -> ServerTlsIR | None:
    """Re-encryption settings; certificate files are named after the pool in the cert dir."""
    if not pool.tls_enabled:
        return None
    base = f"{layout.cert_dir}/{pool.id}"
    ca = f"{base}-ca.pem" if pool.ca_tls_container_ref else None
    allowed = set(pool.tls_versions or constants.DEFAULT_TLS_VERSIONS)
    versions = [_HAPROXY_TLS_NAME[v] for v in _HAPROXY_TLS_NAME if v in allowed]
    return ServerTlsIR(
        verify="required" if ca else "none",
        ca_file=ca,
        crl_file=f"{base}-crl.pem" if ca and pool.crl_container_ref else None,
        crt=f"{base}-client.pem" if pool.tls_container_ref else None,
        ciphers=pool.tls_ciphers,
        min_version=versions[0] if versions else None,
        max_version=versions[-1] if versions else None,
        alpn=tuple(pool.alpn_protocols or ()),
        sni="ssl_fc_sni" if listener.protocol == "TERMINATED_HTTPS" else None,
    )


def _persistence(
    pool: PoolSpec, mode: str, options: RenderOptions, peers: str | None, notes: list[str]
) -> PersistenceIR | None:
    sp = pool.session_persistence
    if sp is None:
        return None
    if sp.type in ("HTTP_COOKIE", "APP_COOKIE") and mode != "http":
        notes.append(f"pool {pool.id}: {sp.type} persistence needs an HTTP listener, dropped")
        return None
    if sp.type == "APP_COOKIE" and not sp.cookie_name:
        notes.append(f"pool {pool.id}: APP_COOKIE without cookie_name, dropped")
        return None
    if sp.type not in ("SOURCE_IP", "HTTP_COOKIE", "APP_COOKIE"):
        return None
    return PersistenceIR(
        kind=sp.type,
        cookie_name=sp.cookie_name if sp.type == "APP_COOKIE" else None,
        table_size=options.stick_table_size,
        peers=peers if sp.type != "HTTP_COOKIE" else None,
    )


def translate_backend(
    pool: PoolSpec,
    listener: ListenerSpec,
    layout: AmphoraLayout,
    options: RenderOptions,
    peers: str | None,
    notes: list[str],
) -> BackendIR:
    """The backend for ``pool`` as used by ``listener`` (both already known to be enabled)."""
    mode = listener_mode(listener)
    balance, hash_type, src_port = _BALANCE.get(pool.lb_algorithm, _BALANCE["ROUND_ROBIN"])
    persistence = _persistence(pool, mode, options, peers, notes)
    health = translate_health(pool.healthmonitor, layout)
    tls = _server_tls(pool, listener, layout)
    cookie = persistence is not None and persistence.kind == "HTTP_COOKIE"
    servers = tuple(
        ServerIR(
            name=m.id,
            address=m.address,
            port=m.protocol_port,
            weight=m.weight,
            backup=m.backup,
            enabled=m.admin_state_up,
            check=health is not None,
            check_address=m.monitor_address if health is not None else None,
            check_port=m.monitor_port if health is not None else None,
            check_ssl=health is not None and health.check_ssl,
            send_proxy=_SEND_PROXY.get(pool.protocol),
            cookie=m.id if cookie else None,
            tls=tls,
        )
        for m in sorted(pool.members, key=lambda m: m.id)
    )
    return BackendIR(
        name=backend_name(pool.id, listener.id),
        pool_id=pool.id,
        listener_id=listener.id,
        mode=mode,
        balance=balance,
        hash_type=hash_type,
        source_port_hash=src_port,
        persistence=persistence,
        health=health,
        servers=servers,
        timeout_connect_ms=listener.timeout_member_connect,
        timeout_server_ms=listener.timeout_member_data,
        fullconn=connection_limit(listener),
        http_reuse=options.http_reuse if mode == "http" else None,
        dynamic_servers=not cookie,
    )
