"""Unique names for the kernel objects and processes tests create.

The project's safety rule: everything a test creates (netns, bridge, veth, cgroup, process)
starts with `portus`, so it can be told apart from what the machine already has and be
cleaned up without touching anything else.
"""

from __future__ import annotations

import secrets

PREFIX = "portus"
IFNAME_MAX = 15  # Linux IFNAMSIZ - 1
_MIN_RANDOM = 4


def unique_name(kind: str = "", *, max_len: int | None = None, random_len: int = 8) -> str:
    """`portus-<kind>-<random hex>`, shortened to `max_len` by trimming the random part.

    At least four hex characters (65536 values) of randomness stay; if `kind` leaves no room
    for them, ValueError tells the caller to pick a shorter kind.
    """
    head = f"{PREFIX}-{kind}-" if kind else f"{PREFIX}-"
    length = random_len
    if max_len is not None:
        length = min(length, max_len - len(head))
    if length < _MIN_RANDOM:
        raise ValueError(f"kind {kind!r} too long for a name of at most {max_len} characters")
    return head + secrets.token_hex((length + 1) // 2)[:length]


def unique_ifname(kind: str = "") -> str:
    """A unique network interface name (bridge, veth) within the kernel's 15 characters.

    `portus-<kind><hex>`: no dash before the random part, so a kind of up to four letters
    (br, veth, vip) still leaves at least four random hex characters.
    """
    head = f"{PREFIX}-{kind}"
    length = IFNAME_MAX - len(head)
    if length < _MIN_RANDOM:
        raise ValueError(f"kind {kind!r} too long for an interface name; use at most 4 letters")
    return head + secrets.token_hex((length + 1) // 2)[:length]
