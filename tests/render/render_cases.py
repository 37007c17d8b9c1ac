"""Desired-state inputs for the golden tests: one builder per case, plus small helpers.

Every case is (LoadBalancerSpec, AmphoraSpec). Golden outputs live in ``golden/<case>.*`` and are
regenerated with ``pytest tests/render --regen-golden``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from portus.ir.desired import (
    AmphoraLayout,
    AmphoraSpec,
    HealthMonitorSpec,
    L7PolicySpec,
    L7RuleSpec,
    ListenerSpec,
    LoadBalancerSpec,
    MemberSpec,
    PoolSpec,
    SessionPersistenceSpec,
    frozen_items,
)

GOLDEN_STATE_DIR = "/tmp/portus-golden-state"
LAYOUT = AmphoraLayout.for_state_dir(GOLDEN_STATE_DIR)
VIP = "10.255.0.10"
AMP = AmphoraSpec(id="amp-1")

Case = tuple[LoadBalancerSpec, AmphoraSpec]


def members(n: int = 2, base: str = "10.0.1.", port: int = 80, **kw: Any) -> tuple[MemberSpec, ...]:
    return tuple(
        MemberSpec(id=f"member-{i}", address=f"{base}{i + 10}", protocol_port=port, **kw)
        for i in range(1, n + 1)
    )


def pool(
    pid: str = "pool-1", protocol: str = "HTTP", algo: str = "ROUND_ROBIN", **kw: Any
) -> PoolSpec:
    kw.setdefault("members", members())
    return PoolSpec(id=pid, protocol=protocol, lb_algorithm=algo, **kw)


def listener(
    lid: str = "listener-1", protocol: str = "HTTP", port: int = 80, **kw: Any
) -> ListenerSpec:
    kw.setdefault("default_pool_id", "pool-1")
    return ListenerSpec(id=lid, protocol=protocol, protocol_port=port, **kw)


def lb(*, listeners: tuple[ListenerSpec, ...], pools: tuple[PoolSpec, ...], **kw: Any) -> Case:
    spec = LoadBalancerSpec(
        id="lb-1",
        project_id="project-1",
        vip_address=kw.pop("vip_address", VIP),
        listeners=listeners,
        pools=pools,
        **kw,
    )
    return spec, AMP


def simple(lis: ListenerSpec | None = None, pl: PoolSpec | None = None, **kw: Any) -> Case:
    return lb(listeners=(lis or listener(),), pools=(pl or pool(),), **kw)


def hm(type_: str, **kw: Any) -> HealthMonitorSpec:
    kw.setdefault("delay", 5)
    kw.setdefault("timeout", 3)
    kw.setdefault("max_retries", 2)
    return HealthMonitorSpec(id="hm-1", type=type_, **kw)


def rule(rid: str, type_: str, compare: str, value: str, **kw: Any) -> L7RuleSpec:
    return L7RuleSpec(id=rid, type=type_, compare_type=compare, value=value, **kw)


def policy(pid: str, action: str, position: int, *rules: L7RuleSpec, **kw: Any) -> L7PolicySpec:
    return L7PolicySpec(id=pid, action=action, position=position, rules=rules, **kw)


PATH_API = rule("rule-path", "PATH", "STARTS_WITH", "/api")


def l7(*policies: L7PolicySpec, extra_pools: tuple[PoolSpec, ...] = ()) -> Case:
    pools = (pool(), pool("pool-2", members=members(1, base="10.0.2.")), *extra_pools)
    return lb(listeners=(listener(l7policies=policies),), pools=pools)


def active_standby(role: str, vip: str = VIP, vrrp_base: str = "10.255.0.") -> Case:
    amps = (
        AmphoraSpec(
            id="amp-1",
            role="MASTER",
            vrrp_ip=f"{vrrp_base}21",
            vrrp_interface="portus-vip",
            vrrp_id=7,
        ),
        AmphoraSpec(
            id="amp-2",
            role="BACKUP",
            vrrp_ip=f"{vrrp_base}22",
            vrrp_interface="portus-vip",
            vrrp_id=7,
        ),
    )
    me = amps[0] if role == "MASTER" else amps[1]
    persist = SessionPersistenceSpec(type="SOURCE_IP")
    spec = LoadBalancerSpec(
        id="lb-1",
        project_id="project-1",
        vip_address=vip,
        additional_vips=("fd00:255::10",) if ":" not in vip else ("10.255.0.10",),
        topology="ACTIVE_STANDBY",
        listeners=(listener(),),
        pools=(pool(session_persistence=persist),),
        amphorae=amps,
    )
    return spec, me


def _udp(algo: str = "ROUND_ROBIN", protocol: str = "UDP", **kw: Any) -> Case:
    pl = pool(protocol=protocol, algo=algo, members=kw.pop("members", members(port=53)), **kw)
    return simple(listener(protocol=protocol, port=53), pl)


CASES: dict[str, Callable[[], Case]] = {
    "http_basic": lambda: simple(),
    "tcp_basic": lambda: simple(listener(protocol="TCP", port=3306), pool(protocol="TCP")),
    "https_passthrough": lambda: simple(
        listener(protocol="HTTPS", port=443), pool(protocol="HTTPS", members=members(port=443))
    ),
    "prometheus": lambda: lb(
        listeners=(listener("listener-prom", "PROMETHEUS", 9100, default_pool_id=None),), pools=()
    ),
    "pool_proxy": lambda: simple(pl=pool(protocol="PROXY")),
    "pool_proxyv2_tcp": lambda: simple(
        listener(protocol="TCP", port=25), pool(protocol="PROXYV2", members=members(port=25))
    ),
    "algo_leastconn": lambda: simple(pl=pool(algo="LEAST_CONNECTIONS")),
    "algo_source_ip": lambda: simple(pl=pool(algo="SOURCE_IP")),
    "algo_source_ip_port": lambda: simple(pl=pool(algo="SOURCE_IP_PORT")),
    "persist_source_ip": lambda: simple(
        pl=pool(session_persistence=SessionPersistenceSpec(type="SOURCE_IP"))
    ),
    "persist_http_cookie": lambda: simple(
        pl=pool(session_persistence=SessionPersistenceSpec(type="HTTP_COOKIE"))
    ),
    "persist_app_cookie": lambda: simple(
        pl=pool(session_persistence=SessionPersistenceSpec(type="APP_COOKIE", cookie_name="JSID"))
    ),
    "persist_cookie_on_tcp": lambda: simple(
        listener(protocol="TCP"),
        pool(session_persistence=SessionPersistenceSpec(type="HTTP_COOKIE")),
    ),
    "hm_http_default": lambda: simple(pl=pool(healthmonitor=hm("HTTP"))),
    "hm_http_full": lambda: simple(
        pl=pool(
            healthmonitor=hm(
                "HTTP",
                http_method="HEAD",
                url_path="/health?full=1",
                expected_codes="200,202",
                http_version=1.1,
                domain_name="app.example.com",
                max_retries_down=5,
            )
        )
    ),
    "hm_http_range": lambda: simple(
        pl=pool(healthmonitor=hm("HTTP", expected_codes="200-204", http_version=1.0))
    ),
    "hm_https": lambda: simple(
        listener(protocol="HTTPS", port=443),
        pool(protocol="HTTPS", members=members(port=443), healthmonitor=hm("HTTPS")),
    ),
    "hm_ping": lambda: simple(pl=pool(healthmonitor=hm("PING"))),
    "hm_tcp": lambda: simple(pl=pool(healthmonitor=hm("TCP", delay=0, timeout=0))),
    "hm_tls_hello": lambda: simple(
        listener(protocol="TCP", port=443),
        pool(protocol="TCP", members=members(port=443), healthmonitor=hm("TLS-HELLO")),
    ),
    "hm_disabled": lambda: simple(pl=pool(healthmonitor=hm("HTTP", admin_state_up=False))),
    "member_states": lambda: simple(
        pl=pool(
            members=(
                MemberSpec(id="m-normal", address="10.0.1.11", protocol_port=80, weight=10),
                MemberSpec(id="m-drain", address="10.0.1.12", protocol_port=80, weight=0),
                MemberSpec(id="m-backup", address="10.0.1.13", protocol_port=80, backup=True),
                MemberSpec(
                    id="m-down", address="10.0.1.14", protocol_port=80, admin_state_up=False
                ),
            ),
            healthmonitor=hm("TCP"),
        )
    ),
    "member_monitor_address": lambda: simple(
        pl=pool(
            members=(
                MemberSpec(
                    id="m-1",
                    address="10.0.1.11",
                    protocol_port=80,
                    monitor_address="10.0.9.11",
                    monitor_port=8080,
                ),
                MemberSpec(id="m-2", address="10.0.1.12", protocol_port=80, monitor_port=8081),
            ),
            healthmonitor=hm("HTTP"),
        )
    ),
    "member_ipv6": lambda: simple(
        pl=pool(
            members=(
                MemberSpec(
                    id="m-6",
                    address="fd00:1::11",
                    protocol_port=80,
                    monitor_address="fd00:9::11",
                ),
            ),
            healthmonitor=hm("TCP"),
        ),
        vip_address="fd00:255::10",
    ),
    "l7_redirect_to_pool": lambda: l7(
        policy("pol-1", "REDIRECT_TO_POOL", 1, PATH_API, redirect_pool_id="pool-2")
    ),
    "l7_redirect_url": lambda: l7(
        policy(
            "pol-1",
            "REDIRECT_TO_URL",
            1,
            PATH_API,
            redirect_url="https://www.example.com/moved?a=1%20b",
            redirect_http_code=301,
        )
    ),
    "l7_redirect_prefix": lambda: l7(
        policy("pol-1", "REDIRECT_PREFIX", 1, PATH_API, redirect_prefix="https://example.org")
    ),
    "l7_reject": lambda: l7(policy("pol-1", "REJECT", 1, PATH_API)),
    "l7_ordered_mixed": lambda: l7(
        policy("pol-c", "REJECT", 3, rule("r-admin", "PATH", "STARTS_WITH", "/admin")),
        policy(
            "pol-a",
            "REDIRECT_TO_POOL",
            1,
            rule("r-host", "HOST_NAME", "EQUAL_TO", "api.example.com"),
            redirect_pool_id="pool-2",
        ),
        policy(
            "pol-b",
            "REDIRECT_TO_URL",
            2,
            rule("r-old", "PATH", "STARTS_WITH", "/old"),
            redirect_url="https://new.example.com/",
        ),
        policy(
            "pol-d",
            "REDIRECT_TO_POOL",
            4,
            rule("r-static", "FILE_TYPE", "EQUAL_TO", "png"),
            redirect_pool_id="pool-3",
        ),
        extra_pools=(pool("pool-3", members=members(1, base="10.0.3.")),),
    ),
    "l7_rule_types": lambda: l7(
        policy(
            "pol-1",
            "REDIRECT_TO_POOL",
            1,
            rule("r1-host", "HOST_NAME", "ENDS_WITH", ".example.com"),
            rule("r2-path", "PATH", "CONTAINS", "/v2/"),
            rule("r3-ftype", "FILE_TYPE", "EQUAL_TO", ".jpg"),
            rule("r4-ftype-re", "FILE_TYPE", "REGEX", r"\.(png|gif)$"),
            rule("r5-header", "HEADER", "EQUAL_TO", "beta", key="X-Channel"),
            rule("r6-cookie", "COOKIE", "STARTS_WITH", "blue", key="deploy", invert=True),
            rule("r7-cert", "SSL_CONN_HAS_CERT", "EQUAL_TO", "true", invert=True),
            rule("r8-verify", "SSL_VERIFY_RESULT", "EQUAL_TO", "0"),
            rule("r9-dn", "SSL_DN_FIELD", "REGEX", "^ops-.*", key="CN"),
            redirect_pool_id="pool-2",
        )
    ),
    "l7_compare_types": lambda: l7(
        *(
            policy(
                f"pol-{i}",
                "REJECT",
                i,
                rule(f"r-{ct.lower()}", "HEADER", ct, value, key="X-Test", invert=i % 2 == 0),
            )
            for i, (ct, value) in enumerate(
                [
                    ("REGEX", "^a[0-9]+$"),
                    ("STARTS_WITH", "pre"),
                    ("ENDS_WITH", "post"),
                    ("CONTAINS", "mid"),
                    ("EQUAL_TO", "exact"),
                ],
                start=1,
            )
        )
    ),
    "l7_skipped": lambda: l7(
        policy("pol-disabled", "REJECT", 1, PATH_API, admin_state_up=False),
        policy("pol-norules", "REJECT", 2),
        policy(
            "pol-rule-off",
            "REJECT",
            3,
            rule("r-off", "PATH", "EQUAL_TO", "/x", admin_state_up=False),
        ),
        policy("pol-badpool", "REDIRECT_TO_POOL", 4, PATH_API, redirect_pool_id="pool-off"),
        policy("pol-kept", "REJECT", 5, rule("r-kept", "PATH", "EQUAL_TO", "/kept")),
        extra_pools=(pool("pool-off", admin_state_up=False),),
    ),
    "l7_quoting": lambda: l7(
        policy(
            "pol-1",
            "REJECT",
            1,
            rule("r-space", "HEADER", "EQUAL_TO", "two words", key="X-A"),
            rule("r-quote", "HEADER", "CONTAINS", "it's", key="X-B"),
            rule("r-dollar", "PATH", "REGEX", "^/a b/$x"),
        )
    ),
    "insert_headers": lambda: simple(
        listener(
            insert_headers=frozen_items(
                {
                    "X-Forwarded-For": "true",
                    "X-Forwarded-Port": "true",
                    "X-Forwarded-Proto": "true",
                    "X-Real-IP": "true",
                    "X-Client-IP": "True",
                    "X-Forwarded-IP": "true",
                }
            )
        )
    ),
    "insert_headers_false": lambda: simple(
        listener(insert_headers=frozen_items({"X-Forwarded-For": "false"}))
    ),
    "timeouts": lambda: simple(
        listener(
            protocol="TCP",
            timeout_client_data=1000,
            timeout_member_connect=2000,
            timeout_member_data=3000,
            timeout_tcp_inspect=500,
        ),
        pool(protocol="TCP"),
    ),
    "connection_limits": lambda: lb(
        listeners=(
            listener(connection_limit=100),
            listener("listener-2", "TCP", 81, connection_limit=-1, default_pool_id="pool-2"),
        ),
        pools=(pool(), pool("pool-2", protocol="TCP")),
    ),
    "allowed_cidrs_tcp": lambda: simple(
        listener(allowed_cidrs=("192.0.2.0/24", "198.51.100.7/32"))
    ),
    "allowed_cidrs_dual_stack": lambda: lb(
        listeners=(
            listener(allowed_cidrs=("192.0.2.0/24",)),
            listener(
                "listener-udp",
                "UDP",
                53,
                default_pool_id="pool-udp",
                allowed_cidrs=("2001:db8::/32", "192.0.2.0/24"),
            ),
        ),
        pools=(pool(), pool("pool-udp", "UDP", members=members(port=53))),
        additional_vips=("fd00:255::10",),
    ),
    "udp_round_robin": lambda: _udp(),
    "udp_weighted": lambda: _udp(
        members=(
            MemberSpec(id="m-a", address="10.0.1.11", protocol_port=53, weight=4),
            MemberSpec(id="m-b", address="10.0.1.12", protocol_port=53, weight=2),
            MemberSpec(id="m-c", address="10.0.1.13", protocol_port=53, weight=0),
            MemberSpec(id="m-d", address="10.0.1.14", protocol_port=53, admin_state_up=False),
            MemberSpec(id="m-e", address="10.0.1.15", protocol_port=53, backup=True),
        ),
        healthmonitor=hm("UDP-CONNECT"),
    ),
    "udp_backup_only": lambda: _udp(members=members(port=53, backup=True)),
    "udp_source_ip": lambda: _udp("SOURCE_IP"),
    "udp_persistence": lambda: _udp(
        session_persistence=SessionPersistenceSpec(type="SOURCE_IP", persistence_timeout=360)
    ),
    "sctp_source_ip_port": lambda: _udp("SOURCE_IP_PORT", protocol="SCTP"),
    "udp_no_members": lambda: _udp(members=()),
    "udp_dual_stack": lambda: lb(
        listeners=(listener(protocol="UDP", port=53),),
        pools=(
            pool(
                protocol="UDP",
                members=(
                    *members(port=53),
                    MemberSpec(id="m-6", address="fd00:1::11", protocol_port=53),
                ),
            ),
        ),
        additional_vips=("fd00:255::10",),
    ),
    "additional_vips": lambda: simple(additional_vips=("10.255.1.10", "fd00:255::10")),
    "disabled_lb": lambda: simple(admin_state_up=False),
    "disabled_listener_and_pool": lambda: lb(
        listeners=(
            listener(admin_state_up=False),
            listener("listener-2", port=81, default_pool_id="pool-2"),
        ),
        pools=(pool(), pool("pool-2", admin_state_up=False)),
    ),
    "shared_pool_two_listeners": lambda: lb(
        listeners=(listener(), listener("listener-2", "TCP", 8080)),
        pools=(pool(healthmonitor=hm("TCP")),),
    ),
    "terminated_https_skipped": lambda: lb(
        listeners=(
            listener("listener-tls", "TERMINATED_HTTPS", 443),
            listener(),
        ),
        pools=(pool(),),
    ),
    "pool_tls_enabled": lambda: simple(
        pl=pool(
            tls_enabled=True,
            tls_versions=("TLSv1.2", "TLSv1.3"),
            alpn_protocols=("h2", "http/1.1"),
            tls_ciphers="ECDHE-RSA-AES128-GCM-SHA256",
            healthmonitor=hm("HTTPS"),
        )
    ),
    "empty_lb": lambda: lb(listeners=(), pools=()),
    "active_standby_master": lambda: active_standby("MASTER"),
    "active_standby_backup": lambda: active_standby("BACKUP"),
    "active_standby_ipv6": lambda: active_standby(
        "MASTER", vip="fd00:255::10", vrrp_base="fd00:255::"
    ),
}


def build(name: str) -> Case:
    return CASES[name]()


__all__ = ["CASES", "GOLDEN_STATE_DIR", "LAYOUT", "build"]
