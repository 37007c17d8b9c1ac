"""The amphora provider: an LB becomes network namespaces running HAProxy, on this host.

A reconcile has two halves. ``prepare`` (in a DB transaction) decides which amphorae the LB
should have and records them, with their addresses, *before* anything is built, so a crash
between the halves leaves rows that the next reconcile reuses instead of leaking namespaces.
``apply`` (no DB) creates missing amphorae through the agent, renders each one's files from
the LB's desired graph and applies them atomically; the agent decides between no-op, runtime
API and seamless reload.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from portus.config import Settings, SubnetConfig
from portus.db import ipam
from portus.db.models import Amphora, Flavor, FlavorProfile, LoadBalancer
from portus.db.spec import amphora_spec, lb_spec
from portus.drivers.agent import (
    AgentError,
    AmphoraAgent,
    AmphoraSpec,
    Limits,
    NetworkAttachment,
    RenderedFiles,
)
from portus.drivers.agent import NotFound as AgentNotFound
from portus.drivers.network.bridges import plug_subnet
from portus.ir.desired import AmphoraLayout
from portus.ir.translate import translate
from portus.reconcile import tls_files
from portus.reconcile.errors import PermanentError, TemporaryError
from portus.render.files import render_amphora

log = logging.getLogger("portus.amphora")

LIVE = ("PENDING_CREATE", "BOOTING", "ALLOCATED")


@dataclass(frozen=True)
class Leg:
    subnet: SubnetConfig
    address: str


@dataclass(frozen=True)
class Plan:
    """What ``prepare`` decided, for ``apply``: each live amphora's extra legs, and the
    certificates its TLS listeners and pools need (fetched once per reconcile)."""

    legs: dict[str, list[Leg]]
    tls: tls_files.TlsMaterial | None = None


def parse_limits(text: str | None, default: Limits) -> Limits:
    """``compute_flavor`` of a flavor profile, e.g. ``cpus=0.5,memory_mb=128,pids=256``."""
    if not text:
        return default
    values = dict(part.split("=", 1) for part in text.split(",") if "=" in part)
    try:
        return Limits(
            cpus=float(values["cpus"]) if "cpus" in values else default.cpus,
            memory_bytes=int(values["memory_mb"]) * 1024 * 1024
            if "memory_mb" in values
            else default.memory_bytes,
            pids_max=int(values["pids"]) if "pids" in values else default.pids_max,
        )
    except ValueError as exc:
        raise PermanentError(f"invalid compute_flavor {text!r}: {exc}") from exc


class AmphoraProvider:
    name = "amphora"

    def __init__(self, settings: Settings, agent: AmphoraAgent | None = None) -> None:
        self.settings = settings
        if agent is None:
            from portus.drivers.local import LocalAgent

            agent = LocalAgent(settings.state_dir / "agent")
        self.agent = agent
        self.default_limits = Limits(cpus=1.0, memory_bytes=512 * 1024 * 1024, pids_max=4096)
        for subnet in settings.subnets:
            plug_subnet(subnet)

    def observes_health(self) -> bool:
        return True

    # -- DB half -----------------------------------------------------------------------------
    def _subnet(self, ref: str | None) -> SubnetConfig | None:
        for subnet in self.settings.subnets:
            if ref in (subnet.id, subnet.name):
                return subnet
        return None

    def prepare(self, session: Session, lb: LoadBalancer) -> Plan:
        """Record the amphorae the LB should have (one for SINGLE) and their member legs."""
        if lb.provisioning_status == "PENDING_DELETE":
            return Plan({})
        if not [a for a in lb.amphorae if a.status in LIVE]:
            self._new_amphora(session, lb)
            session.refresh(lb, ["amphorae"])
        return Plan(
            {a.id: self.member_legs(session, lb, a) for a in lb.amphorae if a.status in LIVE},
            tls_files.collect(session, lb, self.settings),
        )

    def _new_amphora(self, session: Session, lb: LoadBalancer) -> None:
        vip_subnet = self._subnet(lb.vip_subnet_id)
        if vip_subnet is None:
            raise PermanentError(f"VIP subnet {lb.vip_subnet_id} is not a configured subnet")
        amp = Amphora(
            load_balancer_id=lb.id,
            role="STANDALONE",
            status="BOOTING",
            ha_ip=lb.vip_address,
            vrrp_ip=None,
            lb_network_ip=lb.vip_address,
            host="local",
            compute_flavor=self._compute_flavor(session, lb),
        )
        session.add(amp)
        session.flush()
        amp.compute_id = f"portus-amp-{amp.id.replace('-', '')[:8]}"

    def _compute_flavor(self, session: Session, lb: LoadBalancer) -> str | None:
        if not lb.flavor_id:
            return None
        flavor = session.get(Flavor, lb.flavor_id)
        profile = session.get(FlavorProfile, flavor.flavor_profile_id) if flavor else None
        if profile is None:
            return None
        try:
            data = json.loads(profile.flavor_data or "{}")
        except ValueError:
            return None
        value = data.get("compute_flavor")
        return str(value) if value else None

    def member_legs(self, session: Session, lb: LoadBalancer, amp: Amphora) -> list[Leg]:
        """Legs on member subnets the VIP subnet does not cover (addresses kept in IPAM)."""
        legs: list[Leg] = []
        seen = {lb.vip_subnet_id}
        for pool in lb.pools:
            for member in pool.members:
                subnet = self._subnet(member.subnet_id)
                if subnet is None or subnet.id in seen:
                    continue
                seen.add(subnet.id)
                address = ipam.owned(session, amp.id, subnet.id) or ipam.allocate(
                    session, subnet.id, subnet.cidr, amp.id, None, subnet.gateway, "leg"
                )
                legs.append(Leg(subnet, address))
        return legs

    # -- data-plane half ---------------------------------------------------------------------
    def amphora_request(self, lb: LoadBalancer, amp: Amphora, legs: list[Leg]) -> AmphoraSpec:
        vip_subnet = self._subnet(lb.vip_subnet_id)
        assert vip_subnet is not None
        vip_net = ipaddress.ip_network(vip_subnet.cidr, strict=False)
        networks = [
            NetworkAttachment(
                bridge=vip_subnet.bridge,
                address=amp.ha_ip or lb.vip_address or "",
                prefixlen=vip_net.prefixlen,
                gateway=vip_subnet.gateway,
            )
        ]
        for leg in legs:
            net = ipaddress.ip_network(leg.subnet.cidr, strict=False)
            networks.append(
                NetworkAttachment(
                    bridge=leg.subnet.bridge, address=leg.address, prefixlen=net.prefixlen
                )
            )
        return AmphoraSpec(
            id=amp.id,
            networks=tuple(networks),
            limits=parse_limits(amp.compute_flavor, self.default_limits),
        )

    def apply(self, lb: LoadBalancer, plan: object = None) -> None:
        legs = plan.legs if isinstance(plan, Plan) else {}
        tls = (plan.tls if isinstance(plan, Plan) else None) or tls_files.TlsMaterial()
        spec = lb_spec(lb)
        for amp in lb.amphorae:
            if amp.status in ("PENDING_DELETE", "DELETED", "ERROR"):
                self._destroy(amp.id)
        for amp in lb.amphorae:
            if amp.status not in LIVE:
                continue
            request = self.amphora_request(lb, amp, legs.get(amp.id, []))
            try:
                info = self.agent.create_amphora(request)
            except AgentError as exc:
                if "exists" not in str(exc).lower():
                    raise TemporaryError(f"amphora {amp.id}: {exc}") from exc
                # Its legs changed (a member subnet came or went): rebuild it.
                self._destroy(amp.id)
                info = self.agent.create_amphora(request)
            layout = AmphoraLayout.for_state_dir(info.run_dir)
            rendered = render_amphora(translate(spec, amphora_spec(amp), layout))
            result = self.agent.apply(
                amp.id,
                RenderedFiles(
                    haproxy_cfg=rendered.haproxy_cfg,
                    nft_ruleset=rendered.nftables,
                    keepalived_conf=rendered.keepalived_conf,
                    scripts=rendered.scripts,
                    files=tls_files.files_for(tls, spec, layout),
                ),
            )
            if result.error:
                if "haproxy -c" in result.error or "invalid" in result.error.lower():
                    raise PermanentError(f"amphora {amp.id} refused the config: {result.error}")
                raise TemporaryError(f"amphora {amp.id}: {result.error}")
            log.info(
                "lb %s amphora %s: changed=%s reloaded=%s runtime_ops=%s",
                lb.id,
                amp.id,
                result.changed,
                result.reloaded,
                result.runtime_ops,
            )

    def delete(self, lb: LoadBalancer) -> None:
        for amp in lb.amphorae:
            self._destroy(amp.id)

    def _destroy(self, amphora_id: str) -> None:
        try:
            self.agent.delete_amphora(amphora_id)
        except AgentNotFound:
            return

    def shutdown_all(self) -> None:
        """Remove every amphora this provider's agent holds (tests and `portus down`)."""
        for info in self.agent.list_amphorae():
            self._destroy(info.id)


def state_dir_of(settings: Settings) -> Path:
    return settings.state_dir / "agent"
