"""JSON shapes of the agent's dataclasses, shared by the HTTPS server and the remote driver."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from portus.agent.model import (
    AmphoraInfo,
    AmphoraSpec,
    AmphoraStatus,
    ApplyResult,
    InterfaceInfo,
    Limits,
    NetworkAttachment,
    RenderedFiles,
)


def to_dict(obj: Any) -> dict[str, Any]:
    return asdict(obj)


def spec_from_dict(d: dict[str, Any]) -> AmphoraSpec:
    return AmphoraSpec(
        id=str(d["id"]),
        networks=tuple(_attachment(n) for n in d.get("networks", ())),
        limits=Limits(**d.get("limits", {})),
    )


def _attachment(d: dict[str, Any]) -> NetworkAttachment:
    return NetworkAttachment(**{**d, "extra_addresses": tuple(d.get("extra_addresses", ()))})


def info_from_dict(d: dict[str, Any]) -> AmphoraInfo:
    return AmphoraInfo(
        id=str(d["id"]),
        netns=str(d["netns"]),
        run_dir=str(d["run_dir"]),
        interfaces=tuple(InterfaceInfo(**i) for i in d.get("interfaces", ())),
        cgroups=tuple(d.get("cgroups", ())),
    )


def files_from_dict(d: dict[str, Any]) -> RenderedFiles:
    return RenderedFiles(
        haproxy_cfg=d.get("haproxy_cfg"),
        nft_ruleset=d.get("nft_ruleset"),
        keepalived_conf=d.get("keepalived_conf"),
        scripts=tuple((str(p), str(t)) for p, t in d.get("scripts", ())),
        files=tuple((str(p), str(t)) for p, t in d.get("files", ())),
    )


def result_from_dict(d: dict[str, Any]) -> ApplyResult:
    return ApplyResult(
        changed=bool(d["changed"]),
        reloaded=bool(d["reloaded"]),
        runtime_ops=tuple(d.get("runtime_ops", ())),
        error=d.get("error"),
        rolled_back=bool(d.get("rolled_back", False)),
    )


def status_from_dict(d: dict[str, Any]) -> AmphoraStatus:
    return AmphoraStatus(
        id=str(d["id"]),
        alive=bool(d["alive"]),
        haproxy_pid=d.get("haproxy_pid"),
        worker_pids=tuple(d.get("worker_pids", ())),
        reloads=int(d.get("reloads", 0)),
        runtime_applies=int(d.get("runtime_applies", 0)),
        keepalived_pid=d.get("keepalived_pid"),
    )
