"""IR -> ``keepalived.conf`` for an ACTIVE_STANDBY amphora (keepalived 2.2.7).

Settings (dataplane.md §6 and §4.3): VRRPv3 with unicast peers, sub-second ``advert_int`` from
the IR, both amphorae ``state BACKUP`` + ``nopreempt`` (no second switch when the old master
returns; the role only sets the priority), ``vrrp_garp_master_delay 1`` /
``vrrp_garp_master_repeat 5``, ``vrrp_higher_prio_send_advert``, and a ``track_script`` that
asks HAProxy's runtime socket (``interval`` = 1 s, the minimum, ``fall 1 rise 1``). VIPs of the
VRRP address family are ``virtual_ipaddress``, the others ``virtual_ipaddress_excluded``.
``None`` when the amphora has no VRRP instance (SINGLE topology).
"""

from __future__ import annotations

from portus.ir.model import AmphoraIR, VrrpIR

CHECK_NAME = "portus_check_haproxy"


def _advert(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text or "1"


def _block(name: str, lines: list[str], indent: str = "    ") -> list[str]:
    return [f"{name} {{", *(f"{indent}{line}" for line in lines), "}"]


def _instance(v: VrrpIR) -> list[str]:
    lines = [
        "state BACKUP",
        f"interface {v.interface}",
        f"virtual_router_id {v.virtual_router_id}",
        f"priority {v.priority}",
        f"advert_int {_advert(v.advert_int)}",
        "nopreempt",
        "accept",
        "garp_master_refresh 5",
        "garp_master_refresh_repeat 2",
        f"unicast_src_ip {v.unicast_src_ip}",
    ]
    if v.unicast_peers:
        lines += _block("unicast_peer", list(v.unicast_peers))
    if v.vips:
        lines += _block("virtual_ipaddress", list(v.vips))
    if v.vips_excluded:
        lines += _block("virtual_ipaddress_excluded", list(v.vips_excluded))
    lines += _block("track_script", [CHECK_NAME])
    return _block(f"vrrp_instance {v.name}", lines)


def render_keepalived(ir: AmphoraIR) -> str | None:
    """The complete keepalived.conf, or ``None`` without VRRP (deterministic)."""
    v = ir.vrrp
    if v is None:
        return None
    out = [
        f"# Portus amphora {ir.amphora_id} of load balancer {ir.lb_id}. Generated; do not edit.",
        *_block(
            "global_defs",
            [
                f"router_id {ir.amphora_id}",
                "vrrp_version 3",
                "vrrp_garp_master_delay 1",
                "vrrp_garp_master_repeat 5",
                "vrrp_higher_prio_send_advert true",
                "script_user root",
                "enable_script_security",
            ],
        ),
        *_block(
            f"vrrp_script {CHECK_NAME}",
            [
                f'script "{v.check_script}"',
                f"interval {v.check_interval}",
                "timeout 1",
                "fall 1",
                "rise 1",
            ],
        ),
        *_instance(v),
    ]
    return "\n".join(out) + "\n"
