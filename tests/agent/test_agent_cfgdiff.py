"""Which config changes the agent applies through the runtime API, and which need a reload."""

from __future__ import annotations

from portus.agent.cfgdiff import parse, parse_bind, server_delta

BASE = """global
    master-worker
    server-state-file /run/x/servers.state
defaults
    mode http
frontend fe  # comment
    bind 10.0.0.5:80
    bind ipv6@:::443,:8443
    default_backend be
backend be
    balance roundrobin
{servers}
"""


def cfg(*servers: str) -> str:
    return BASE.format(servers="\n".join(f"    server {s}" for s in servers))


def delta(old: str, new: str) -> list[str] | None:
    ops = server_delta(parse(old), parse(new))
    return None if ops is None else [c for op in ops for c in op.commands]


def test_added_server_is_registered_enabled_and_health_checked() -> None:
    assert delta(cfg("a 10.1.0.1:80"), cfg("a 10.1.0.1:80", "b 10.1.0.2:80 check inter 2s")) == [
        "add server be/b 10.1.0.2:80 check inter 2s weight 1",
        "enable server be/b",
        "enable health be/b",
    ]


def test_added_disabled_server_stays_in_maintenance() -> None:
    ops = delta(cfg(), cfg("b 10.1.0.2:80 weight 3 disabled"))
    assert ops == ["add server be/b 10.1.0.2:80 weight 3"]


def test_removed_server_is_put_in_maintenance_then_deleted() -> None:
    assert delta(cfg("a 10.1.0.1:80", "b 10.1.0.2:80"), cfg("a 10.1.0.1:80")) == [
        "set server be/b state maint",
        "del server be/b",
    ]


def test_delete_waits_for_requests_in_flight_before_cutting_them() -> None:
    from portus.agent.cfgdiff import RuntimeOp
    from portus.agent.runtime import run_ops

    sent: list[str] = []
    refusals = iter(range(3))

    def send(command: str) -> str:
        sent.append(command)
        if command.startswith("del server") and next(refusals, None) is not None:
            return "Server still has connections attached to it, cannot remove it."
        return "Server deleted." if command.startswith("del server") else ""

    op = RuntimeOp("remove be/b", ("set server be/b state maint", "del server be/b"))
    assert run_ops(send, [op]) == ["set server be/b state maint", "del server be/b"]
    assert "shutdown sessions server be/b" not in sent

    stubborn: list[str] = []

    def send_stubborn(command: str) -> str:
        stubborn.append(command)
        if command.startswith("del server"):
            cut = "shutdown sessions server be/b" in stubborn
            return "Server deleted." if cut else "Server still has connections attached to it."
        return ""

    done = run_ops(send_stubborn, [op], drain_wait=0.1)
    assert done[-2:] == ["shutdown sessions server be/b", "del server be/b"]


def test_weight_state_and_address_changes() -> None:
    old = cfg("a 10.1.0.1:80 weight 5 check")
    assert delta(old, cfg("a 10.1.0.1:80 weight 0 check")) == ["set server be/a weight 0"]
    assert delta(old, cfg("a 10.1.0.1:80 weight 5 check disabled")) == [
        "set server be/a state maint"
    ]
    assert delta(old, cfg("a 10.1.0.9:81 weight 5 check")) == [
        "set server be/a addr 10.1.0.9 port 81"
    ]


def test_identical_servers_need_no_ops() -> None:
    assert delta(cfg("a 10.1.0.1:80"), cfg("a 10.1.0.1:80")) == []


def test_structural_changes_need_a_reload() -> None:
    old = cfg("a 10.1.0.1:80 check")
    assert delta(old, cfg("a 10.1.0.1:80 check backup")) is None
    assert delta(old, cfg("a 10.1.0.1:80 check inter 9s")) is None
    assert delta(old, old.replace("roundrobin", "leastconn")) is None
    assert delta(old, old.replace("bind 10.0.0.5:80", "bind 10.0.0.5:81")) is None


def test_no_runtime_add_where_default_server_applies() -> None:
    old = cfg("a 10.1.0.1:80").replace("    balance", "    default-server inter 3s\n    balance")
    new = cfg("a 10.1.0.1:80", "b 10.1.0.2:80").replace(
        "    balance", "    default-server inter 3s\n    balance"
    )
    assert delta(old, new) is None


def test_comments_and_blank_lines_do_not_force_a_reload() -> None:
    old = cfg("a 10.1.0.1:80")
    assert delta(old, "# rendered\n\n" + old.replace("fe  # comment", "fe")) == []


def test_binds_and_state_file_are_found() -> None:
    parsed = parse(cfg())
    assert parsed.binds == (("10.0.0.5", 80), ("::1", 443), ("127.0.0.1", 8443))
    assert parsed.server_state_file == "/run/x/servers.state"


def test_bind_forms() -> None:
    assert parse_bind("*:80") == [("127.0.0.1", 80)]
    assert parse_bind("[2001:db8::5]:443") == [("2001:db8::5", 443)]
    assert parse_bind("unix@/run/x.sock") == []
    assert parse_bind("10.0.0.1:8000-8010") == [("10.0.0.1", 8000)]
