"""Names carry the project's prefix and fit the kernel; ports are free and not handed out twice."""

from __future__ import annotations

import socket

import pytest

from tests.support.names import IFNAME_MAX, unique_ifname, unique_name
from tests.support.ports import free_port, wait_for_port


def test_names_have_the_prefix_and_differ() -> None:
    names = {unique_name("amp") for _ in range(200)}
    assert len(names) == 200
    assert all(n.startswith("portus-amp-") and len(n) == len("portus-amp-") + 8 for n in names)
    assert unique_name().startswith("portus-")


def test_interface_names_fit_ifnamsiz() -> None:
    for kind in ("", "br", "veth", "vip"):
        name = unique_ifname(kind)
        assert name.startswith("portus")
        assert len(name) == IFNAME_MAX
    assert len({unique_ifname("br") for _ in range(20)}) == 20
    with pytest.raises(ValueError):
        unique_ifname("much-too-long")


def test_free_port_can_be_bound_and_is_not_repeated() -> None:
    ports = [free_port() for _ in range(20)]
    assert len(set(ports)) == 20
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", ports[0]))
        sock.listen()
        assert wait_for_port("127.0.0.1", ports[0], timeout=2)
    assert not wait_for_port("127.0.0.1", ports[1], timeout=0.2)
