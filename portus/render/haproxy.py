"""IR -> ``haproxy.cfg`` for one amphora (HAProxy 2.6, master-worker).

Performance settings taken from dataplane.md §6: explicit ``maxconn`` (sum of listener limits,
capped by ``RenderOptions.maxconn_cap``), ``nbthread``, ``tune.bufsize 65536``,
``http-reuse always`` (option), ``option http-keep-alive`` without ``http-server-close``,
``option idle-close-on-response`` (no keep-alive EOF race on reload), ``ssl-min-ver TLSv1.2``,
and deliberately *no* ``option splice-*`` (slower on veth) and no logging unless asked.

Server lines and the runtime API
--------------------------------
Every server setting is on the ``server`` line itself (no ``default-server``), because HAProxy
2.6 dynamic servers inherit nothing. ``server_keywords(server, backend)`` returns exactly the
words after ``server <name> <addr>:<port>``; the reconciler can send
``add server <backend>/<name> <addr>:<port> <server_keywords(...)>`` (then ``enable server`` and,
with checks, ``enable health``) to add a member without reload. The keywords used are:
``weight``, ``backup``, ``disabled``, ``check``, ``inter``, ``fall``, ``rise``, ``addr``,
``port``, ``check-ssl``, ``verify``, ``send-proxy``, ``send-proxy-v2``, ``ssl``, ``ca-file``,
``crl-file``, ``crt``, ``ciphers``, ``ssl-min-ver``, ``ssl-max-ver``, ``alpn``, ``sni`` (all
accepted by ``add server`` in 2.6) and ``cookie`` (refused by ``add server``: backends with
``dynamic_servers=False`` need a reload to add members). Weight, drain (``weight 0``) and
enable/disable are ``set server <backend>/<name> weight|state`` at runtime.

L7 policies keep Octavia's first-match-by-position semantics across action kinds: every action
is an ``http-request`` rule in position order; REDIRECT_TO_POOL sets ``txn.portus_pool`` and
later rules are guarded by ``!{ var(txn.portus_pool) -m found }``; ``use_backend`` then follows
the variable.
"""

from __future__ import annotations

from portus.ir.model import (
    AclIR,
    AmphoraIR,
    BackendIR,
    FrontendIR,
    GlobalIR,
    HealthCheckIR,
    L7ActionIR,
    PeersIR,
    ServerIR,
)
from portus.ir.net import bracketed, host_port
from portus.render.quoting import hap_logformat, hap_word
from portus.render.tls import bind_tls_words, frontend_tls_lines

POOL_VAR = "txn.portus_pool"
_GUARD = f"!{{ var({POOL_VAR}) -m found }}"


def _section(title: str, lines: list[str]) -> list[str]:
    return [title, *(f"    {line}" for line in lines), ""]


def _global(g: GlobalIR, peers: PeersIR | None) -> list[str]:
    lines = [
        "master-worker",
        f"maxconn {g.maxconn}",
        f"nbthread {g.nbthread}",
        f"tune.bufsize {g.tune_bufsize}",
        f"stats socket {hap_word(g.runtime_socket)} mode 600 level admin expose-fd listeners",
        f"server-state-file {hap_word(g.server_state_file)}",
        "ssl-default-bind-options ssl-min-ver TLSv1.2",
        "ssl-default-server-options ssl-min-ver TLSv1.2",
        # HAProxy's internal HTTP client (Lua, OCSP) is unused here; left at its default it
        # loads the system CA bundle at every start and reload: ~45 ms of a 60 ms start here,
        # and a copy of the store in every amphora's memory.
        "httpclient.ssl.verify none",
    ]
    if peers is not None and g.localpeer:
        lines.append(f"localpeer {g.localpeer}")
    if g.external_check:
        lines += ["external-check", "insecure-fork-wanted"]
    if g.log_target:
        lines.append(f"log {g.log_target}")
    return _section("global", lines)


def _defaults(g: GlobalIR) -> list[str]:
    lines = ["log global"] if g.log_target else []
    lines += [
        "retries 3",
        "option redispatch",
        "timeout connect 5000",
        "timeout client 50000",
        "timeout server 50000",
        "load-server-state-from-file global",
    ]
    return _section("defaults", lines)


def _peers(peers: PeersIR) -> list[str]:
    return _section(
        f"peers {peers.name}",
        [f"peer {p.name} {host_port(p.address, p.port)}" for p in peers.peers],
    )


def _acl(acl: AclIR) -> str:
    words = ["acl", acl.name, acl.fetch, *acl.flags]
    if acl.value is not None:
        words.append(hap_word(acl.value))
    return " ".join(words)


def _action(action: L7ActionIR, guarded: bool) -> str:
    cond = [("!" if c.negate else "") + c.acl for c in action.conditions]
    if guarded:
        cond.append(_GUARD)
    suffix = " if " + " ".join(cond)
    target = action.target or ""
    if action.kind == "deny":
        return "http-request deny" + suffix
    if action.kind == "redirect_location":
        return f"http-request redirect location {hap_logformat(target)} code {action.code}" + suffix
    if action.kind == "redirect_prefix":
        return f"http-request redirect prefix {hap_logformat(target)} code {action.code}" + suffix
    return f"http-request set-var({POOL_VAR}) str({target})" + suffix


def _frontend(fe: FrontendIR) -> list[str]:
    lines = [f"mode {fe.mode}"]
    ssl = f" {bind_tls_words(fe.tls)}" if fe.tls else ""
    lines += [f"bind {host_port(b.address, b.port)}{ssl}" for b in fe.binds]
    lines += [f"maxconn {fe.maxconn}", f"timeout client {fe.timeout_client_ms}"]
    if fe.mode == "http":
        lines += ["option http-keep-alive", "option idle-close-on-response"]
    if fe.tcp_inspect_delay_ms > 0:
        lines.append(f"tcp-request inspect-delay {fe.tcp_inspect_delay_ms}")
    if fe.prometheus:
        lines += [
            "http-request use-service prometheus-exporter if { path /metrics }",
            "http-request return status 404",
        ]
    if fe.tls:
        lines += frontend_tls_lines(fe.tls)
    if fe.forwardfor:
        lines.append("option forwardfor")
    lines += [f"http-request set-header {h.name} {h.value}" for h in fe.headers]
    lines += [_acl(a) for a in fe.acls]
    pool_seen = False
    pool_targets: list[str] = []
    for action in fe.actions:
        lines.append(_action(action, guarded=pool_seen))
        if action.kind == "use_backend":
            pool_seen = True
            if action.target and action.target not in pool_targets:
                pool_targets.append(action.target)
    lines += [f"use_backend {t} if {{ var({POOL_VAR}) -m str {t} }}" for t in pool_targets]
    if fe.default_backend:
        lines.append(f"default_backend {fe.default_backend}")
    return _section(f"frontend {fe.name}", lines)


def server_keywords(server: ServerIR, backend: BackendIR) -> str:
    """The words after ``server <name> <addr>:<port>``; also valid for ``add server``."""
    words = [f"weight {server.weight}"]
    if server.backup:
        words.append("backup")
    if not server.enabled:
        words.append("disabled")
    health: HealthCheckIR | None = backend.health
    if server.check and health is not None:
        words += ["check", f"inter {health.inter_s}s", f"fall {health.fall}", f"rise {health.rise}"]
        if server.check_address:
            words.append(f"addr {bracketed(server.check_address)}")
        if server.check_port:
            words.append(f"port {server.check_port}")
        if server.check_ssl:
            words.append("check-ssl" if server.tls else "check-ssl verify none")
    if server.send_proxy:
        words.append(server.send_proxy)
    if server.cookie:
        words.append(f"cookie {server.cookie}")
    tls = server.tls
    if tls is not None:
        words += ["ssl", f"verify {tls.verify}"]
        if tls.ca_file:
            words.append(f"ca-file {hap_word(tls.ca_file)}")
        if tls.crl_file:
            words.append(f"crl-file {hap_word(tls.crl_file)}")
        if tls.crt:
            words.append(f"crt {hap_word(tls.crt)}")
        if tls.ciphers:
            words.append(f"ciphers {hap_word(tls.ciphers)}")
        if tls.min_version:
            words.append(f"ssl-min-ver {tls.min_version}")
        if tls.max_version:
            words.append(f"ssl-max-ver {tls.max_version}")
        if tls.alpn:
            words.append("alpn " + ",".join(tls.alpn))
        if tls.sni:
            words.append(f"sni {tls.sni}")
    return " ".join(words)


def _health(h: HealthCheckIR) -> list[str]:
    lines = [f"timeout check {h.timeout_s}s"]
    if h.kind in ("HTTP", "HTTPS"):
        send = f"http-check send meth {h.http_method} uri {hap_word(h.url_path or '/')}"
        if h.http_version:
            send += f" ver {h.http_version}"
        if h.host:
            send += f" hdr Host {hap_word(h.host)}"
        lines += ["option httpchk", send]
        if h.expect:
            lines.append(f"http-check expect {h.expect[0]} {hap_word(h.expect[1])}")
    if h.external_command:
        lines += [
            "option external-check",
            f"external-check path {hap_word('/usr/bin:/bin:/usr/sbin:/sbin')}",
            f"external-check command {hap_word(h.external_command)}",
        ]
    return lines


def _backend(be: BackendIR) -> list[str]:
    lines = [f"mode {be.mode}"]
    if be.source_port_hash:
        lines.append("tcp-request content set-var(sess.portus_sport) src_port")
    lines.append(f"balance {be.balance}")
    if be.hash_type:
        lines.append(f"hash-type {be.hash_type}")
    p = be.persistence
    peers = f" peers {p.peers}" if p and p.peers else ""
    if p and p.kind == "SOURCE_IP":
        lines += [f"stick-table type ipv6 size {p.table_size}{peers}", "stick on src"]
    elif p and p.kind == "APP_COOKIE" and p.cookie_name:
        name = p.cookie_name
        lines += [
            f"stick-table type string len 64 size {p.table_size}{peers}",
            f"stick store-response res.cook({name})",
            f"stick match req.cook({name})",
        ]
    elif p and p.kind == "HTTP_COOKIE":
        lines.append("cookie SRV insert indirect nocache")
    if be.mode == "http":
        lines.append("option http-keep-alive")
    if be.http_reuse:
        lines.append(f"http-reuse {be.http_reuse}")
    lines += [
        f"fullconn {be.fullconn}",
        f"timeout connect {be.timeout_connect_ms}",
        f"timeout server {be.timeout_server_ms}",
        "option allbackups",
    ]
    if be.health is not None:
        lines += _health(be.health)
    lines += [
        f"server {s.name} {host_port(s.address, s.port)} {server_keywords(s, be)}"
        for s in be.servers
    ]
    return _section(f"backend {be.name}", lines)


def render_haproxy(ir: AmphoraIR) -> str:
    """The complete haproxy.cfg text (deterministic: same IR, same bytes)."""
    out = [
        f"# Portus amphora {ir.amphora_id} of load balancer {ir.lb_id}. Generated; do not edit.",
        "",
    ]
    out += _global(ir.global_, ir.peers)
    out += _defaults(ir.global_)
    if ir.peers is not None:
        out += _peers(ir.peers)
    for fe in ir.frontends:
        out += _frontend(fe)
    for be in ir.backends:
        out += _backend(be)
    return "\n".join(out).rstrip("\n") + "\n"
