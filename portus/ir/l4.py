"""UDP/SCTP listeners (nftables DNAT) and ``allowed_cidrs`` filters.

UDP and SCTP are not proxied by HAProxy: each such listener becomes, per address family of its
VIPs, a DNAT rule choosing a member through a named map (see ``L4ServiceIR``):

* ROUND_ROBIN and LEAST_CONNECTIONS -> ``numgen inc`` (round robin; nftables has no
  connection counts, so least-connections is approximated by round robin).
* SOURCE_IP, or SOURCE_IP session persistence -> ``jhash <family> saddr`` (sticky per client).
* SOURCE_IP_PORT -> ``jhash <family> saddr . th sport``.

Weights are honoured by repeating a member's slot (weights divided by their GCD first, spread
round by round so heavy members do not come in bursts). Weight 0 and disabled members get no
slot; backup members are used only when no primary member has a slot.
"""

from __future__ import annotations

import math

from portus.ir.desired import AmphoraLayout, ListenerSpec, MemberSpec, PoolSpec
from portus.ir.health import translate_health
from portus.ir.model import AllowedCidrsIR, L4MemberIR, L4ServiceIR
from portus.ir.net import family, nft_ident

L4_PROTOCOLS = {"UDP": "udp", "SCTP": "sctp"}


def weighted_slots(members: list[MemberSpec]) -> tuple[tuple[str, int], ...]:
    """Map slots for members (already filtered to one family), smooth and deterministic."""
    weighted = [m for m in sorted(members, key=lambda m: m.id) if m.weight > 0]
    if not weighted:
        return ()
    divisor = math.gcd(*(m.weight for m in weighted))
    rounds = max(m.weight for m in weighted) // divisor
    slots: list[tuple[str, int]] = []
    for r in range(rounds):
        slots.extend((m.address, m.protocol_port) for m in weighted if m.weight // divisor > r)
    return tuple(slots)


def _selector(pool: PoolSpec, fam: str) -> str:
    persistence = pool.session_persistence
    if pool.lb_algorithm == "SOURCE_IP_PORT":
        return f"jhash {fam} saddr . th sport"
    if pool.lb_algorithm == "SOURCE_IP" or (persistence and persistence.type == "SOURCE_IP"):
        return f"jhash {fam} saddr"
    return "numgen inc"


def translate_l4(
    listener: ListenerSpec, pool: PoolSpec, vips: tuple[str, ...], layout: AmphoraLayout
) -> list[L4ServiceIR]:
    """One service per VIP family for an enabled UDP/SCTP listener with an enabled pool."""
    services = []
    health = translate_health(pool.healthmonitor, layout, l4=True)
    for fam in sorted({family(v) for v in vips}):
        suffix = "6" if fam == "ip6" else "4"
        fam_vips = tuple(v for v in vips if family(v) == fam)
        members = [m for m in pool.members if family(m.address) == fam and m.admin_state_up]
        primaries = [m for m in members if not m.backup]
        slots = weighted_slots(primaries) or weighted_slots([m for m in members if m.backup])
        services.append(
            L4ServiceIR(
                listener_id=listener.id,
                pool_id=pool.id,
                l4proto=L4_PROTOCOLS[listener.protocol],
                port=listener.protocol_port,
                family=fam,
                vips=fam_vips,
                map_name=f"pool_{nft_ident(pool.id)}_{nft_ident(listener.id)}_{suffix}",
                selector=_selector(pool, fam),
                slots=slots,
                members=tuple(
                    L4MemberIR(
                        m.id,
                        m.address,
                        m.protocol_port,
                        m.weight,
                        m.backup,
                        m.monitor_address,
                        m.monitor_port,
                    )
                    for m in sorted(members, key=lambda m: m.id)
                ),
                health=health,
            )
        )
    return services


def l4proto_of(listener: ListenerSpec) -> str:
    """The L4 protocol a listener's port lives in."""
    return L4_PROTOCOLS.get(listener.protocol, "tcp")


def translate_allowed_cidrs(listener: ListenerSpec, vips: tuple[str, ...]) -> list[AllowedCidrsIR]:
    """Allow-list filters for a listener; ``None`` or ``[]`` means everyone may connect.

    A VIP family with no CIDR of that family gets an empty allow-list: all its sources drop.
    """
    if not listener.allowed_cidrs:
        return []
    out = []
    for fam in sorted({family(v) for v in vips}):
        out.append(
            AllowedCidrsIR(
                listener_id=listener.id,
                l4proto=l4proto_of(listener),
                port=listener.protocol_port,
                family=fam,
                vips=tuple(v for v in vips if family(v) == fam),
                cidrs=tuple(sorted({c for c in listener.allowed_cidrs if family(c) == fam})),
            )
        )
    return out
