"""Pure IPAM: what addresses are handed out and the errors users see."""

from __future__ import annotations

import pytest

from portus.drivers.network.ipam import AddressInUse, Exhausted, IpamError, OutOfRange, allocate


def test_first_free_skips_network_gateway_and_used() -> None:
    assert allocate("10.0.0.0/24", set(), gateway="10.0.0.1") == "10.0.0.2"
    assert allocate("10.0.0.0/24", {"10.0.0.2", "10.0.0.3"}, gateway="10.0.0.1") == "10.0.0.4"
    assert allocate("10.0.0.0/24", set(), reserved=["10.0.0.1", "10.0.0.2"]) == "10.0.0.3"


def test_requested_address_is_checked() -> None:
    assert allocate("10.0.0.0/24", set(), "10.0.0.77") == "10.0.0.77"
    with pytest.raises(AddressInUse, match="already in use"):
        allocate("10.0.0.0/24", {"10.0.0.77"}, "10.0.0.77")
    with pytest.raises(AddressInUse, match="gateway"):
        allocate("10.0.0.0/24", set(), "10.0.0.1", gateway="10.0.0.1")
    with pytest.raises(OutOfRange, match="not in"):
        allocate("10.0.0.0/24", set(), "10.0.1.5")
    with pytest.raises(OutOfRange, match="broadcast"):
        allocate("10.0.0.0/24", set(), "10.0.0.255")
    with pytest.raises(OutOfRange):
        allocate("10.0.0.0/24", set(), "10.0.0.0")
    with pytest.raises(IpamError, match="not an IP"):
        allocate("10.0.0.0/24", set(), "banana")


def test_exhausted_subnet() -> None:
    with pytest.raises(Exhausted, match="no free address"):
        allocate("10.0.0.0/30", {"10.0.0.2"}, gateway="10.0.0.1")


def test_ipv6() -> None:
    assert allocate("2001:db8::/64", set(), gateway="2001:db8::1") == "2001:db8::2"
    with pytest.raises(OutOfRange):
        allocate("2001:db8::/64", set(), "2001:db8::")
    with pytest.raises(OutOfRange):
        allocate("2001:db8::/64", set(), "10.0.0.1")
