"""IR -> an ``nft -f`` file that atomically replaces the table ``inet portus``.

The file declares the table, deletes it and declares it again: nft applies a file as one
transaction, so the old ruleset is replaced with no window in which it is missing (nft 1.0.6
has no ``destroy``). Contents:

* ``chain allowed`` (filter, prerouting, priority mangle = before DNAT), only when a listener
  has ``allowed_cidrs`` (an empty base chain would still cost every packet a hook): for each
  such listener, traffic to its VIPs/port/L4 protocol is accepted from the CIDRs and dropped
  otherwise. One place for TCP, UDP and SCTP listeners alike. Traffic arriving on ``lo`` is the
  amphora's own (the agent's post-apply probe connects to every bind from inside) and is never
  filtered: the allow-list is about tenants' clients, as Octavia's security group on the VIP
  port is.
* ``chain forward`` (filter, policy drop): the amphora forwards only DNATed flows (the agent
  turns forwarding on for UDP/SCTP), so it never routes between its legs otherwise.
* one map per UDP/SCTP service (see ``portus.ir.model.L4ServiceIR``), then
  ``chain prerouting`` (nat) with ``dnat <family> to <selector> mod N map @<map>``, and
  ``chain postrouting`` masquerading DNATed flows so member replies come back through the
  amphora (members need no special route, as with Octavia's LVS NAT setup).

Connection tracking is paid for only where it is used. A ``nat`` chain or a ``ct`` expression
turns conntrack on for the whole namespace, and then every packet of every HAProxy connection
(client and member side) is looked up, and every new connection is created and confirmed in
the table (decisions.md D15, measured with ``bench/dp_variants.py``). So an amphora without
UDP/SCTP members gets neither the nat chains nor ``ct status dnat accept`` (its forward chain
drops everything), and one with them exempts TCP with ``notrack`` in ``raw_prerouting`` and
``raw_output`` (priority raw): TCP is terminated by HAProxy, never DNATed.

A health checker may rewrite map elements at runtime (``delete element`` + ``add element`` in
one ``nft -f`` transaction) as long as it keeps the slot count; a different slot count is a
re-render.
"""

from __future__ import annotations

from portus.ir.model import AllowedCidrsIR, AmphoraIR, L4ServiceIR

TABLE = "inet portus"


def _set(items: tuple[str, ...]) -> str:
    return items[0] if len(items) == 1 else "{ " + ", ".join(items) + " }"


def _addr(address: str, family: str) -> str:
    return f"[{address}]" if family == "ip6" else address


def _allowed(rule: AllowedCidrsIR) -> list[str]:
    match = f"{rule.family} daddr {_set(rule.vips)} {rule.l4proto} dport {rule.port}"
    lines = [f"# listener {rule.listener_id}"]
    if rule.cidrs:
        lines.append(f"{match} {rule.family} saddr {_set(rule.cidrs)} accept")
    lines.append(f"{match} drop")
    return lines


def _map(svc: L4ServiceIR) -> list[str]:
    n = len(svc.slots)
    elements = ", ".join(
        f"{i} : {_addr(addr, svc.family)} . {port}" for i, (addr, port) in enumerate(svc.slots)
    )
    return [
        f"map {svc.map_name} {{",
        f"    typeof numgen inc mod {n} : {svc.family} daddr . th dport",
        f"    elements = {{ {elements} }}",
        "}",
    ]


def _dnat(svc: L4ServiceIR) -> list[str]:
    match = f"{svc.family} daddr {_set(svc.vips)} {svc.l4proto} dport {svc.port}"
    return [
        f"# listener {svc.listener_id} pool {svc.pool_id}",
        f"{match} dnat {svc.family} to {svc.selector} mod {len(svc.slots)} map @{svc.map_name}",
    ]


def _chain(name: str, hook: str, lines: list[str]) -> list[str]:
    return [f"chain {name} {{", f"    {hook}", *(f"    {line}" for line in lines), "}"]


def render_nftables(ir: AmphoraIR) -> str:
    """The complete nft file (deterministic: same IR, same bytes)."""
    services = [s for s in ir.l4_services if s.slots]
    body: list[str] = []
    for svc in services:
        body += _map(svc)
    allowed: list[str] = ['iifname "lo" accept'] if ir.allowed_cidrs else []
    for rule in ir.allowed_cidrs:
        allowed += _allowed(rule)
    if services:
        notrack = ["meta l4proto tcp notrack"]
        pre_hook = "type filter hook prerouting priority raw; policy accept;"
        body += _chain("raw_prerouting", pre_hook, notrack)
        out_hook = "type filter hook output priority raw; policy accept;"
        body += _chain("raw_output", out_hook, notrack)
    if allowed:
        filter_hook = "type filter hook prerouting priority mangle; policy accept;"
        body += _chain("allowed", filter_hook, allowed)
    forward_hook = "type filter hook forward priority filter; policy drop;"
    body += _chain("forward", forward_hook, ["ct status dnat accept"] if services else [])
    if services:
        dnat: list[str] = []
        for svc in services:
            dnat += _dnat(svc)
        nat_pre = "type nat hook prerouting priority dstnat; policy accept;"
        body += _chain("prerouting", nat_pre, dnat)
        nat_post = "type nat hook postrouting priority srcnat; policy accept;"
        body += _chain("postrouting", nat_post, ["ct status dnat masquerade"])
    header = [
        f"# Portus amphora {ir.amphora_id} of load balancer {ir.lb_id}. Generated; do not edit.",
        f"table {TABLE}",
        f"delete table {TABLE}",
        f"table {TABLE} {{",
    ]
    return "\n".join([*header, *(f"    {line}" for line in body), "}"]) + "\n"
