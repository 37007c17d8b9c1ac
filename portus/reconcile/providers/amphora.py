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
import time
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from portus.agent import udphealth
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
from portus.ir.desired import AmphoraLayout, LoadBalancerSpec, RenderOptions
from portus.ir.model import AmphoraIR
from portus.ir.translate import translate
from portus.reconcile import tls_files
from portus.reconcile.errors import PermanentError, TemporaryError
from portus.render.files import render_amphora

log = logging.getLogger("portus.amphora")

LIVE = ("PENDING_CREATE", "BOOTING", "ALLOCATED", "FAILOVER_STOPPED")
ACTIVE_STANDBY = "ACTIVE_STANDBY"
PRIORITY = {"MASTER": 100, "BACKUP": 90}
VRRP_INTERFACE = "eth0"  # the VIP leg is always the first


def udp_health_spec(ir: AmphoraIR) -> str | None:
    """The agent's UDP/SCTP checks for ``ir`` (``udphealth.SPEC_FILE``), None without UDP."""
    services: list[udphealth.SlotService] = []
    for svc in ir.l4_services:
        if not svc.slots:
            continue
        hm = svc.health
        check = None
        if hm is not None:
            check = udphealth.Check(
                kind=hm.kind,
                interval=float(hm.inter_s),
                timeout=float(hm.timeout_s),
                rise=max(1, hm.rise),
                fall=max(1, hm.fall),
                http_path=hm.url_path or "/",
                expected_codes=udphealth.codes_of(hm.expect),
            )
        members = tuple(
            udphealth.SlotMember(
                m.id,
                m.address,
                m.port,
                m.monitor_address or m.address,
                m.monitor_port or m.port,
            )
            for m in svc.members
        )
        services.append(
            udphealth.SlotService(
                f"{svc.pool_id}:{svc.listener_id}",
                svc.family,
                svc.map_name,
                svc.slots,
                members,
                check,
            )
        )
    return udphealth.spec_to_json(services) if services else None


def place(hosts: list[str], taken: list[str | None]) -> str:
    """Anti-affinity: the first host not already running an amphora of this LB, else the
    least used one (a single host still works, without the guarantee)."""
    free = [h for h in hosts if h not in taken]
    if free:
        return free[0]
    return min(hosts, key=lambda h: (taken.count(h), hosts.index(h)))


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
    rolling: str | None = None  # ACTIVE_STANDBY replaced whole: the old master, kept till last


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

    def __init__(
        self,
        settings: Settings,
        agent: AmphoraAgent | None = None,
        agents: dict[str, AmphoraAgent] | None = None,
    ) -> None:
        """``agents`` maps host names to their agents (several LB hosts); ``agent`` alone is
        the single host ``local``."""
        self.settings = settings
        if agent is None and not agents:
            from portus.drivers.local import LocalAgent

            agent = LocalAgent(settings.state_dir / "agent")
        self.agents: dict[str, AmphoraAgent] = dict(agents or {})
        if agent is not None:
            self.agents.setdefault("local", agent)
        self.agent = agent if agent is not None else next(iter(self.agents.values()))
        self.options = RenderOptions(vrrp_advert_int=settings.vrrp_advert_int)
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
        """Record the amphorae the LB should have (one for SINGLE, a MASTER and a BACKUP for
        ACTIVE_STANDBY) and their legs. A lost peer's replacement joins as BACKUP; the
        survivor, which keepalived already made master, is recorded as MASTER."""
        if lb.provisioning_status == "PENDING_DELETE":
            return Plan({})
        live = [a for a in lb.amphorae if a.status in LIVE]
        if lb.topology == ACTIVE_STANDBY:
            if len(live) == 1 and live[0].role != "MASTER":
                live[0].role, live[0].vrrp_priority = "MASTER", PRIORITY["MASTER"]
            roles = {a.role for a in live}
            taken = [a.host for a in live]
            for role in ("MASTER", "BACKUP"):
                if role not in roles:
                    # Anti-affinity counts the amphora just placed too.
                    taken.append(self._new_amphora(session, lb, role, taken).host)
        elif not live:
            self._new_amphora(session, lb, "STANDALONE", [])
        session.refresh(lb, ["amphorae"])
        return Plan(
            {a.id: self.member_legs(session, lb, a) for a in lb.amphorae if a.status in LIVE},
            tls_files.collect(session, lb, self.settings),
            rolling=self._rolling(lb),
        )

    @staticmethod
    def _rolling(lb: LoadBalancer) -> str | None:
        """An LB failover of ACTIVE_STANDBY replaces both amphorae: the old master is kept
        serving until its replacement can take the VIP (see ``apply``)."""
        if lb.topology != ACTIVE_STANDBY:
            return None
        live = [a for a in lb.amphorae if a.status in LIVE]
        if not live or any(a.status != "BOOTING" for a in live):
            return None  # a survivor exists: the usual one-peer rebuild
        old = [a for a in lb.amphorae if a.status == "PENDING_DELETE" and a.role == "MASTER"]
        return old[0].id if old else None

    def _new_amphora(
        self, session: Session, lb: LoadBalancer, role: str, taken: list[str | None]
    ) -> Amphora:
        vip_subnet = self._subnet(lb.vip_subnet_id)
        if vip_subnet is None:
            raise PermanentError(f"VIP subnet {lb.vip_subnet_id} is not a configured subnet")
        host = place(list(self.agents), taken)
        compute_flavor = self._compute_flavor(session, lb)
        amp = None if compute_flavor else self._spare(session, host)
        if amp is None:
            amp = Amphora(host=host)
            session.add(amp)
        amp.load_balancer_id = lb.id
        amp.role = role
        amp.status = "BOOTING"
        amp.ha_ip = amp.lb_network_ip = lb.vip_address
        amp.compute_flavor = compute_flavor
        session.flush()
        amp.compute_id = f"portus-amp-{amp.id.replace('-', '')[:8]}"
        if role in PRIORITY:
            try:
                address = ipam.allocate(
                    session,
                    vip_subnet.id,
                    vip_subnet.cidr,
                    amp.id,
                    None,
                    vip_subnet.gateway,
                    "vrrp",
                )
            except ValueError as exc:
                raise PermanentError(f"no VRRP address on {vip_subnet.id}: {exc}") from exc
            amp.vrrp_ip = amp.lb_network_ip = address
            amp.vrrp_interface = VRRP_INTERFACE
            amp.vrrp_id = 1
            amp.vrrp_priority = PRIORITY[role]
        return amp

    def _spare(self, session: Session, host: str) -> Amphora | None:
        """A READY amphora from the spare pool on ``host`` (its namespace already exists)."""
        stmt = (
            select(Amphora)
            .where(Amphora.status == "READY", Amphora.host == host)
            .where(Amphora.load_balancer_id.is_(None))
            .order_by(Amphora.created_at)
            .limit(1)
        )
        if session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        return session.scalars(stmt).first()

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
        on_vip_leg, own_legs = self._additional_vips(lb, vip_subnet, standalone=not amp.vrrp_ip)
        networks = [
            NetworkAttachment(
                bridge=vip_subnet.bridge,
                # ACTIVE_STANDBY: the leg has the amphora's own VRRP address, keepalived adds
                # the VIP on the master.
                address=amp.vrrp_ip or amp.ha_ip or lb.vip_address or "",
                prefixlen=vip_net.prefixlen,
                gateway=vip_subnet.gateway,
                extra_addresses=on_vip_leg,
            ),
            *own_legs,
        ]
        for leg in legs:
            net = ipaddress.ip_network(leg.subnet.cidr, strict=False)
            networks.append(
                NetworkAttachment(
                    bridge=leg.subnet.bridge,
                    address=leg.address,
                    prefixlen=net.prefixlen,
                    quickack=True,
                )
            )
        return AmphoraSpec(
            id=amp.id,
            networks=tuple(networks),
            limits=parse_limits(amp.compute_flavor, self.default_limits),
        )

    def _additional_vips(
        self, lb: LoadBalancer, vip_subnet: SubnetConfig, standalone: bool
    ) -> tuple[tuple[str, ...], list[NetworkAttachment]]:
        """A SINGLE amphora holds its LB's additional VIPs itself: on the VIP leg when their
        subnet shares its bridge, else on a leg of their own (keepalived holds them for
        ACTIVE_STANDBY)."""
        same: list[str] = []
        legs: list[NetworkAttachment] = []
        if not standalone:
            return (), legs
        for extra in lb.additional_vips or []:
            subnet = self._subnet(extra.get("subnet_id"))
            address = extra.get("ip_address")
            if subnet is None or not address:
                continue
            prefix = ipaddress.ip_network(subnet.cidr, strict=False).prefixlen
            if subnet.bridge == vip_subnet.bridge:
                same.append(f"{address}/{prefix}")
            else:
                legs.append(
                    NetworkAttachment(bridge=subnet.bridge, address=address, prefixlen=prefix)
                )
        return tuple(same), legs

    def apply(self, lb: LoadBalancer, plan: object = None) -> None:
        legs = plan.legs if isinstance(plan, Plan) else {}
        tls = (plan.tls if isinstance(plan, Plan) else None) or tls_files.TlsMaterial()
        rolling = plan.rolling if isinstance(plan, Plan) else None
        spec = lb_spec(lb)
        keep = next((a for a in lb.amphorae if a.id == rolling), None)
        for amp in lb.amphorae:
            if amp.status in ("PENDING_DELETE", "DELETED", "ERROR") and amp is not keep:
                self._destroy(amp.id, amp.host)
        live = [a for a in lb.amphorae if a.status in LIVE]
        if keep is not None:
            self._roll(lb, spec, keep, live, legs, tls)
            return
        # The survivor first: it holds the VIP and must learn its new peer before the
        # replacement's keepalived starts advertising.
        self._converge(lb, spec, sorted(live, key=lambda a: a.status == "BOOTING"), legs, tls)

    def _roll(
        self,
        lb: LoadBalancer,
        spec: LoadBalancerSpec,
        old_master: Amphora,
        new: list[Amphora],
        legs: dict[str, list[Leg]],
        tls: tls_files.TlsMaterial,
    ) -> None:
        """Replace both amphorae one at a time so the VIP keeps serving: the old backup is
        already gone; the new MASTER joins the old master as its backup, the old master is
        stopped (keepalived first: priority-0 advert, the new one takes the VIP after its skew)
        and the new BACKUP joins the new master."""
        first = next((a for a in new if a.role == "MASTER"), None)
        if first is None:
            self._destroy(old_master.id, old_master.host)
            self._converge(lb, spec, new, legs, tls)
            return
        pair = replace(spec, amphorae=(amphora_spec(old_master), amphora_spec(first)))
        try:
            self._converge(lb, pair, [old_master, first], legs, tls)
        except TemporaryError:
            log.warning(
                "lb %s: old master %s unreachable, replacing it at once", lb.id, old_master.id
            )
        # Long enough for the new peer to hear a few adverts and settle as BACKUP.
        time.sleep(max(0.3, 10 * self.settings.vrrp_advert_int))
        self._destroy(old_master.id, old_master.host)
        self._converge(lb, spec, [first, *(a for a in new if a is not first)], legs, tls)

    def _converge(
        self,
        lb: LoadBalancer,
        spec: LoadBalancerSpec,
        order: list[Amphora],
        legs: dict[str, list[Leg]],
        tls: tls_files.TlsMaterial,
    ) -> None:
        """Create (if missing) and configure each amphora of ``order``, in that order."""
        for amp in order:
            agent = self._agent(amp.host)
            request = self.amphora_request(lb, amp, legs.get(amp.id, []))
            try:
                info = agent.create_amphora(request)
            except AgentError as exc:
                if "exists" not in str(exc).lower():
                    raise TemporaryError(f"amphora {amp.id}: {exc}") from exc
                # Its legs changed (a member subnet came or went): rebuild it.
                self._destroy(amp.id, amp.host)
                info = agent.create_amphora(request)
            layout = AmphoraLayout.for_state_dir(info.run_dir)
            ir = translate(spec, amphora_spec(amp), layout, self.options)
            rendered = render_amphora(ir)
            files = tls_files.files_for(tls, spec, layout)
            checks = udp_health_spec(ir)
            if checks is not None:
                files = (*files, (udphealth.SPEC_FILE, checks))
            result = agent.apply(
                amp.id,
                RenderedFiles(
                    haproxy_cfg=rendered.haproxy_cfg,
                    nft_ruleset=rendered.nftables,
                    keepalived_conf=rendered.keepalived_conf,
                    scripts=rendered.scripts,
                    files=files,
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
            self._destroy(amp.id, amp.host)
        tls_files.forget(self.settings, lb.id)

    def _agent(self, host: str | None) -> AmphoraAgent:
        agent = self.agents.get(host or "local")
        if agent is None:
            raise TemporaryError(f"no agent configured for host {host!r}")
        return agent

    def _destroy(self, amphora_id: str, host: str | None = None) -> None:
        agent = self.agents.get(host or "local", self.agent)
        try:
            agent.delete_amphora(amphora_id)
        except AgentNotFound:
            return

    def shutdown_all(self) -> None:
        """Remove every amphora this provider's agents hold (tests and `portus down`)."""
        for host, agent in self.agents.items():
            for info in agent.list_amphorae():
                self._destroy(info.id, host)


def state_dir_of(settings: Settings) -> Path:
    return settings.state_dir / "agent"
