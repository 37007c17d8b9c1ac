"""The UDP/SCTP checker's pure parts: slot re-pointing keeps the map's modulus, rise/fall,
what it reports in heartbeats, and the spec the reconciler ships."""

from __future__ import annotations

from portus.agent import udphealth as uh

A, B, C = ("10.0.0.1", 53), ("10.0.0.2", 53), ("10.0.0.3", 53)


def service(check: uh.Check | None = None) -> uh.SlotService:
    members = tuple(
        uh.SlotMember(f"m{i}", addr, port, addr, port) for i, (addr, port) in enumerate((A, B, C))
    )
    return uh.SlotService("pool:lis", "ip", "pool_x", (A, B, C, A), members, check)


def test_repoint_fills_a_dead_members_slots_with_live_ones() -> None:
    assert uh.repoint((A, B, C, A), {B: False}) == (A, A, C, A)
    assert uh.repoint((A, B, C, B), {B: False}) == (A, A, C, C)  # spread, not piled up


def test_repoint_keeps_the_rendered_slots_when_nothing_is_up() -> None:
    assert uh.repoint((A, B), {A: False, B: False}) == (A, B)


def test_map_batch_rewrites_every_slot_in_one_transaction() -> None:
    assert uh.map_batch(service(), (A, A, C, A)) == (
        "flush map inet portus pool_x\n"
        "add element inet portus pool_x { 0 : 10.0.0.1 . 53, 1 : 10.0.0.1 . 53, "
        "2 : 10.0.0.3 . 53, 3 : 10.0.0.1 . 53 }\n"
    )
    v6 = uh.SlotService("p:l", "ip6", "m6", (("fd00::1", 53),), (), None)
    assert "0 : [fd00::1] . 53" in uh.map_batch(v6, v6.slots)


def test_fall_and_rise_need_consecutive_probes() -> None:
    checker = uh.SlotChecker("unused", service(uh.Check("UDP-CONNECT", 3, 1, rise=2, fall=2)))
    checker.observe({"m1": False})
    assert checker.desired() == (A, B, C, A)  # one failure is not enough
    checker.observe({"m1": False})
    assert checker.desired() == (A, A, C, A)
    checker.observe({"m1": True})
    assert checker.up["m1"] is False
    checker.observe({"m1": True})
    assert checker.desired() == (A, B, C, A)


def test_pool_report_feeds_heartbeats() -> None:
    checked = service(uh.Check("UDP-CONNECT", 3, 1))
    report = uh.pool_report([checked], {"m0": True, "m1": False})
    assert report == {
        "pool:lis": {"status": "UP", "members": {"m0": "UP", "m1": "DOWN", "m2": "UP"}}
    }
    down = uh.pool_report([checked], {"m0": False, "m1": False, "m2": False})
    assert down["pool:lis"]["status"] == "DOWN"
    unchecked = uh.pool_report([service()], {})
    assert set(unchecked["pool:lis"]["members"].values()) == {"no check"}


def test_spec_round_trips_through_json() -> None:
    services = [service(uh.Check("HTTP", 5, 2, 3, 2, "/hc", (200, 204))), service()]
    assert uh.spec_from_json(uh.spec_to_json(services)) == services


def test_codes_of_http_expectations() -> None:
    assert uh.codes_of(("status", "200")) == (200,)
    assert uh.codes_of(("rstatus", "^(200|202|204)$")) == (200, 202, 204)
    assert uh.codes_of(None) == (200,)
