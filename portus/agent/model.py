"""The agent's public data: what callers send in and get back.

Plain frozen dataclasses, so the in-process driver passes them directly and the remote driver
sends them as JSON (see ``portus.agent.wire``).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class NetworkAttachment:
    """One leg of an amphora: a veth whose host end joins ``bridge``.

    ``quickack`` marks a member-facing leg: its connected route gets ``quickack 1`` so the
    proxy ACKs member data at once (see ``netns.quickack_route_argv``).
    """

    bridge: str
    address: str
    prefixlen: int
    gateway: str | None = None
    mtu: int | None = None
    quickack: bool = False
    # More addresses on the same leg ("address/prefixlen"): an LB's additional VIPs.
    extra_addresses: tuple[str, ...] = ()


@dataclass(frozen=True)
class Limits:
    """Per-amphora resource limits (from the flavor); ``None`` means unlimited."""

    cpus: float | None = None
    memory_bytes: int | None = None
    pids_max: int | None = None


@dataclass(frozen=True)
class AmphoraSpec:
    id: str
    networks: tuple[NetworkAttachment, ...] = ()
    limits: Limits = field(default_factory=Limits)


@dataclass(frozen=True)
class InterfaceInfo:
    name: str
    host_name: str
    bridge: str
    address: str
    prefixlen: int


@dataclass(frozen=True)
class AmphoraInfo:
    """Where an amphora lives. Renderers should put sockets and state files under ``run_dir``."""

    id: str
    netns: str
    run_dir: str
    interfaces: tuple[InterfaceInfo, ...] = ()
    cgroups: tuple[str, ...] = ()


@dataclass(frozen=True)
class RenderedFiles:
    """Files rendered for one amphora. ``None`` means "this component should not run".

    ``scripts`` (mode 0755, e.g. check scripts) and ``files`` (mode 0600, e.g. certificates)
    are ``(path, text)`` pairs; a path is relative to the amphora's ``run_dir`` or absolute
    inside it. A changed entry of ``files`` makes HAProxy reload, since it reads them only then.
    """

    haproxy_cfg: str | None = None
    nft_ruleset: str | None = None
    keepalived_conf: str | None = None
    scripts: tuple[tuple[str, str], ...] = ()
    files: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ApplyResult:
    """Outcome of one apply; ``error`` is set (and the old config serves) when it failed."""

    changed: bool
    reloaded: bool
    runtime_ops: tuple[str, ...] = ()
    error: str | None = None
    rolled_back: bool = False


@dataclass(frozen=True)
class AmphoraStatus:
    id: str
    alive: bool
    haproxy_pid: int | None
    worker_pids: tuple[int, ...] = ()
    reloads: int = 0
    runtime_applies: int = 0
    keepalived_pid: int | None = None
