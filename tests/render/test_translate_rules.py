"""One test per translation rule: what is rendered at all, and how API values map."""

from __future__ import annotations

from dataclasses import replace

from render_cases import LAYOUT, build, hm, listener, members, policy, pool, rule, simple

from portus.ir.desired import AmphoraSpec, MemberSpec, RenderOptions, SessionPersistenceSpec
from portus.ir.health import expected_codes
from portus.ir.l4 import weighted_slots
from portus.ir.model import AmphoraIR
from portus.ir.translate import translate
from portus.render import render_haproxy, render_keepalived, render_nftables, server_keywords


def ir_of(name: str) -> AmphoraIR:
    lb, amp = build(name)
    return translate(lb, amp, LAYOUT)


def test_disabled_lb_renders_no_proxies_services_or_filters() -> None:
    lb, amp = simple(listener(allowed_cidrs=("192.0.2.0/24",)))
    ir = translate(replace(lb, admin_state_up=False), amp, LAYOUT)
    assert (ir.frontends, ir.backends, ir.l4_services, ir.allowed_cidrs) == ((), (), (), ())
    assert "frontend" not in render_haproxy(ir)
    assert "dport" not in render_nftables(ir)  # neither DNAT rules nor allow-list filters


def test_disabled_listener_and_pool_are_skipped() -> None:
    ir = ir_of("disabled_listener_and_pool")
    assert [fe.name for fe in ir.frontends] == ["listener-2"]
    assert ir.frontends[0].default_backend is None
    assert ir.backends == ()


def test_only_pools_used_by_a_listener_get_backends() -> None:
    lb, amp = simple()
    lb = replace(lb, pools=(*lb.pools, pool("pool-unused")))
    assert [be.name for be in translate(lb, amp, LAYOUT).backends] == ["pool-1:listener-1"]


def test_backend_per_listener_using_a_pool() -> None:
    names = [be.name for be in ir_of("shared_pool_two_listeners").backends]
    assert names == ["pool-1:listener-1", "pool-1:listener-2"]


def test_l7_policies_skipped_when_disabled_ruleless_or_pool_disabled() -> None:
    ir = ir_of("l7_skipped")
    assert [a.policy_id for a in ir.frontends[0].actions] == ["pol-kept"]
    assert [be.pool_id for be in ir.backends] == ["pool-1"]
    assert len([n for n in ir.notes if n.startswith("l7policy")]) == 4


def test_l7_policies_follow_position_not_input_order() -> None:
    actions = ir_of("l7_ordered_mixed").frontends[0].actions
    assert [a.position for a in actions] == [1, 2, 3, 4]
    assert [a.kind for a in actions] == ["use_backend", "redirect_location", "deny", "use_backend"]


def test_redirect_to_pool_creates_backend_for_target_pool() -> None:
    assert "pool-2:listener-1" in [be.name for be in ir_of("l7_redirect_to_pool").backends]


def test_inverted_rule_negates_acl_in_condition() -> None:
    conds = {c.acl: c.negate for c in ir_of("l7_rule_types").frontends[0].actions[0].conditions}
    assert conds["r6-cookie"] and conds["r7-cert"] and not conds["r1-host"]


def test_prometheus_listener_uses_builtin_exporter() -> None:
    ir = ir_of("prometheus")
    assert ir.frontends[0].prometheus and ir.backends == ()
    assert "use-service prometheus-exporter if { path /metrics }" in render_haproxy(ir)


def test_udp_and_sctp_listeners_go_to_nftables_not_haproxy() -> None:
    for name in ("udp_round_robin", "sctp_source_ip_port"):
        ir = ir_of(name)
        assert ir.frontends == () and len(ir.l4_services) == 1


def test_terminated_https_is_noted_not_rendered() -> None:
    ir = ir_of("terminated_https_skipped")
    assert [fe.name for fe in ir.frontends] == ["listener-1"]
    assert any("TERMINATED_HTTPS" in n for n in ir.notes)


def test_connection_limit_default_and_global_cap() -> None:
    ir = ir_of("connection_limits")
    assert [fe.maxconn for fe in ir.frontends] == [100, 50000]
    lb, amp = build("connection_limits")
    roomy = translate(lb, amp, LAYOUT, RenderOptions(maxconn_cap=1_000_000))
    assert roomy.global_.maxconn == 50100
    assert ir.global_.maxconn == RenderOptions().maxconn_cap


def test_weighted_slots_reduce_by_gcd_and_spread() -> None:
    ms = [
        MemberSpec(id="a", address="10.0.0.1", protocol_port=1, weight=4),
        MemberSpec(id="b", address="10.0.0.2", protocol_port=1, weight=2),
        MemberSpec(id="c", address="10.0.0.3", protocol_port=1, weight=0),
    ]
    assert weighted_slots(ms) == (("10.0.0.1", 1), ("10.0.0.2", 1), ("10.0.0.1", 1))


def test_udp_backup_members_only_without_primaries() -> None:
    assert {a for a, _ in ir_of("udp_weighted").l4_services[0].slots} == {"10.0.1.11", "10.0.1.12"}
    assert len(ir_of("udp_backup_only").l4_services[0].slots) == 2


def test_udp_source_ip_uses_jhash_and_round_robin_numgen() -> None:
    assert ir_of("udp_source_ip").l4_services[0].selector == "jhash ip saddr"
    assert ir_of("udp_persistence").l4_services[0].selector == "jhash ip saddr"
    assert ir_of("udp_round_robin").l4_services[0].selector == "numgen inc"


def test_allowed_cidrs_empty_family_drops_all_of_that_family() -> None:
    rules = ir_of("allowed_cidrs_dual_stack").allowed_cidrs
    http_v6 = [r for r in rules if r.listener_id == "listener-1" and r.family == "ip6"]
    assert http_v6[0].cidrs == ()


def test_expected_codes_forms() -> None:
    assert expected_codes(None) == ("status", "200")
    assert expected_codes("200,202") == ("rstatus", "^(200|202)$")
    assert expected_codes("200-202") == ("rstatus", "^(200|201|202)$")


def test_member_states_on_server_lines() -> None:
    be = ir_of("member_states").backends[0]
    words = {s.name: server_keywords(s, be) for s in be.servers}
    assert words["m-drain"].startswith("weight 0")
    assert "backup" in words["m-backup"] and "disabled" in words["m-down"]
    assert "check inter 5s fall 3 rise 2" in words["m-normal"]


def test_monitor_address_and_port_only_with_a_monitor() -> None:
    be = ir_of("member_monitor_address").backends[0]
    assert "addr 10.0.9.11 port 8080" in server_keywords(be.servers[0], be)
    lb, amp = build("member_monitor_address")
    no_hm = replace(lb, pools=(replace(lb.pools[0], healthmonitor=None),))
    be = translate(no_hm, amp, LAYOUT).backends[0]
    assert "addr" not in server_keywords(be.servers[0], be)


def test_http_cookie_backends_are_not_dynamic() -> None:
    be = ir_of("persist_http_cookie").backends[0]
    assert not be.dynamic_servers and "cookie member-1" in server_keywords(be.servers[0], be)
    assert ir_of("persist_source_ip").backends[0].dynamic_servers


def test_cookie_persistence_dropped_on_tcp_listener() -> None:
    ir = ir_of("persist_cookie_on_tcp")
    assert ir.backends[0].persistence is None and ir.notes


def test_ping_monitor_uses_external_check() -> None:
    ir = ir_of("hm_ping")
    assert ir.global_.external_check
    assert f"external-check command {LAYOUT.ping_script}" in render_haproxy(ir)


def test_udp_connect_monitor_is_not_a_haproxy_check() -> None:
    svc = ir_of("udp_weighted").l4_services[0]
    assert svc.health is not None and svc.health.kind == "UDP-CONNECT"


def test_single_topology_has_no_keepalived() -> None:
    assert render_keepalived(ir_of("http_basic")) is None


def test_active_standby_roles_set_priority_and_peers() -> None:
    master, backup = ir_of("active_standby_master"), ir_of("active_standby_backup")
    assert master.vrrp and backup.vrrp
    assert (master.vrrp.priority, backup.vrrp.priority) == (100, 90)
    assert master.vrrp.unicast_peers == ("10.255.0.22",)
    assert backup.vrrp.unicast_peers == ("10.255.0.21",)
    assert master.global_.localpeer == "amp-1" and backup.global_.localpeer == "amp-2"


def test_active_standby_without_vrrp_address_has_no_instance() -> None:
    lb, _ = build("active_standby_master")
    ir = translate(lb, AmphoraSpec(id="amp-x", role="MASTER"), LAYOUT)
    assert ir.vrrp is None and ir.peers is None


def test_health_monitor_disabled_means_no_checks() -> None:
    be = ir_of("hm_disabled").backends[0]
    assert be.health is None and not any(s.check for s in be.servers)


def test_hm_builder_defaults_are_api_defaults() -> None:
    assert hm("TCP").max_retries_down == 3 and members(1)[0].weight == 1


def test_session_persistence_from_api_dict() -> None:
    assert SessionPersistenceSpec.from_api(None) is None
    assert SessionPersistenceSpec.from_api({}) is None
    sp = SessionPersistenceSpec.from_api({"type": "APP_COOKIE", "cookie_name": "x"})
    assert sp == SessionPersistenceSpec(type="APP_COOKIE", cookie_name="x")


def test_l7_on_tcp_listener_is_ignored_with_note() -> None:
    lb, amp = simple(
        listener(
            protocol="TCP",
            l7policies=(policy("p", "REJECT", 1, rule("r", "PATH", "EQUAL_TO", "/")),),
        )
    )
    ir = translate(lb, amp, LAYOUT)
    assert ir.frontends[0].actions == () and ir.notes
