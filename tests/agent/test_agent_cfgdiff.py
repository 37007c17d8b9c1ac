"""Which config changes the agent applies through the runtime API, and which need a reload."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from portus.agent.cfgdiff import parse, parse_bind, server_delta
from portus.agent.errors import AgentError
from portus.agent.runtime import Tombstone, load, new_tombstone, run_ops, save, sweep

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


class FakeWorker:
    """HAProxy 2.6's rules for deleting one server ``be/b`` at 10.1.0.2:80.

    ``del server`` refuses while requests are in flight or idle connections are pooled;
    entering maintenance and any address/port change close the idle ones; a request that ends
    hands its connection back to the pool.
    """

    def __init__(self, in_flight: int = 0, idle: int = 0) -> None:
        self.in_flight, self.idle = in_flight, idle
        self.maint, self.exists, self.port = False, True, 80
        self.sent: list[str] = []

    def finish_requests(self) -> None:
        self.idle += self.in_flight
        self.in_flight = 0

    def __call__(self, command: str) -> str:
        self.sent.append(command)
        if command.startswith("add server be/b "):
            self.exists, self.maint, self.idle, self.in_flight = True, True, 0, 0
            return "New server registered."
        if not self.exists:
            return "No such server."
        if command == "set server be/b state maint":
            self.maint, self.idle = True, 0
            return ""
        if command.startswith("set server be/b addr 10.1.0.2 port "):
            port = int(command.rsplit(" ", 1)[1])
            changed = port != self.port
            self.port, self.idle = port, 0 if changed else self.idle
            return "port changed" if changed else "no need to change the port"
        if command == "shutdown sessions server be/b":
            self.in_flight = 0
            return ""
        if command == "del server be/b":
            if not self.maint:
                return "Only servers in maintenance mode can be deleted."
            if self.in_flight or self.idle:
                return "Server still has connections attached to it, cannot remove it."
            self.exists = False
            return "Server deleted."
        return ""


REMOVE_B = server_delta(parse(cfg("a 10.1.0.1:80", "b 10.1.0.2:80")), parse(cfg("a 10.1.0.1:80")))


def test_removal_closes_idle_connections_a_finished_request_left_behind() -> None:
    # A request ended after "maint" and parked its connection: moving the port closes it.
    worker = FakeWorker(in_flight=1)
    original = worker.__call__

    def send(command: str) -> str:
        answer = original(command)
        if command.endswith("state maint"):
            worker.finish_requests()
        return answer

    tombstones: dict[str, Tombstone] = {}
    assert REMOVE_B is not None
    ran = run_ops(send, REMOVE_B, tombstones)
    assert not worker.exists and not tombstones and ran.tombstoned == []
    assert "set server be/b addr 10.1.0.2 port 81" in ran.commands
    assert "shutdown sessions server be/b" not in worker.sent


def test_removal_serving_a_request_is_left_in_maintenance_and_swept_later() -> None:
    worker = FakeWorker(in_flight=1)
    tombstones: dict[str, Tombstone] = {}
    assert REMOVE_B is not None
    started = time.monotonic()
    ran = run_ops(worker, REMOVE_B, tombstones, settle=0.05)
    assert time.monotonic() - started < 1.0  # the apply does not wait for the request
    assert ran.tombstoned == ["be/b"] and worker.exists and worker.maint
    assert "shutdown sessions server be/b" not in worker.sent

    sweep(worker, tombstones, live=set(), grace=30.0)  # still serving: kept, not cut
    assert "be/b" in tombstones and worker.exists
    worker.finish_requests()
    sweep(worker, tombstones, live=set(), grace=30.0)
    assert not worker.exists and not tombstones
    assert "shutdown sessions server be/b" not in worker.sent


def test_sweep_cuts_sessions_only_after_the_grace_period() -> None:
    worker = FakeWorker(in_flight=1)
    tombstones: dict[str, Tombstone] = {}
    assert REMOVE_B is not None
    run_ops(worker, REMOVE_B, tombstones, settle=0.0)
    since = tombstones["be/b"].since
    sweep(worker, tombstones, live=set(), grace=30.0, now=since + 29)
    assert worker.exists and "shutdown sessions server be/b" not in worker.sent
    sweep(worker, tombstones, live=set(), grace=30.0, now=since + 31)
    assert not worker.exists and not tombstones
    assert worker.sent.count("shutdown sessions server be/b") == 1


def test_sweep_forgets_a_tombstone_whose_name_serves_again() -> None:
    worker = FakeWorker(in_flight=1)
    tombstones: dict[str, Tombstone] = {}
    assert REMOVE_B is not None
    run_ops(worker, REMOVE_B, tombstones, settle=0.0)
    sent = len(worker.sent)
    sweep(worker, tombstones, live={("be", "b")}, grace=0.0)
    assert not tombstones and worker.exists and len(worker.sent) == sent


def test_member_added_back_over_its_tombstone_is_revived_or_replaced(tmp_path: Path) -> None:
    old, new = parse(cfg("a 10.1.0.1:80")), parse(cfg("a 10.1.0.1:80", "b 10.1.0.3:81 weight 4"))
    tomb = parse(cfg("b 10.1.0.2:80")).servers[("be", "b")]
    ops = server_delta(old, new, {("be", "b"): tomb})
    assert ops is not None and [op.kind for op in ops] == ["revive"]
    assert ops[0].commands == (
        "set server be/b addr 10.1.0.3 port 81",
        "set server be/b weight 4",
        "set server be/b state ready",
    )
    tombstones = {"be/b": new_tombstone(tomb)}
    run_ops(lambda c: "IP changed" if " addr " in c else "", ops, tombstones)
    assert tombstones == {}

    checked = parse(cfg("a 10.1.0.1:80", "b 10.1.0.3:81 check"))
    ops = server_delta(old, checked, {("be", "b"): tomb})
    assert ops is not None and ops[0].kind == "replace"
    assert ops[0].commands[:2] == ("del server be/b", "add server be/b 10.1.0.3:81 check weight 1")
    # Only pooled connections left: the tombstone goes, the new server comes, no reload.
    worker = FakeWorker(idle=2)
    worker.maint = True
    tombstones = {"be/b": new_tombstone(tomb)}
    ran = run_ops(worker, ops, tombstones)
    assert worker.exists and not tombstones and "del server be/b" in ran.commands
    # Still serving a request: refused, so the caller reloads.
    worker = FakeWorker(in_flight=1)
    worker.maint = True
    with pytest.raises(AgentError, match="still serves"):
        run_ops(worker, ops, {"be/b": new_tombstone(tomb)}, settle=0.0)

    path = tmp_path / "t.json"
    save(path, {"be/b": new_tombstone(tomb)})
    assert load(path)["be/b"].server == tomb
    save(path, {})
    assert not path.exists()


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
