"""``AmphoraAgent`` over HTTPS with mutual TLS, for agents on other LB hosts."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import httpx

from portus.agent import wire
from portus.drivers.agent import (
    AgentError,
    AlreadyExists,
    AmphoraInfo,
    AmphoraSpec,
    AmphoraStatus,
    ApplyResult,
    NotFound,
    RenderedFiles,
)


def client_context(ca_cert: Path, client_cert: Path, client_key: Path) -> ssl.SSLContext:
    """TLS context trusting only Portus' CA and presenting the controller's certificate."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca_cert))
    ctx.load_cert_chain(str(client_cert), str(client_key))
    return ctx


class RemoteAgent:
    """Client of ``portus agent`` at ``base_url`` (e.g. ``https://10.0.0.5:9443``)."""

    def __init__(
        self,
        base_url: str,
        *,
        ca_cert: Path,
        client_cert: Path,
        client_key: Path,
        timeout: float = 60.0,
    ) -> None:
        self._client = httpx.Client(
            base_url=base_url,
            verify=client_context(ca_cert, client_cert, client_key),
            timeout=timeout,
            trust_env=False,  # agent traffic is host-to-host; an HTTP proxy would break mTLS
        )

    def close(self) -> None:
        self._client.close()

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        try:
            resp = self._client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise AgentError(f"agent {self._client.base_url}: {exc}") from exc
        if resp.status_code == 204:
            return None
        payload = resp.json() if resp.content else {}
        if resp.status_code >= 400:
            message = payload.get("error", resp.text) if isinstance(payload, dict) else resp.text
            if resp.status_code == 404:
                raise NotFound(message)
            if resp.status_code == 409:
                raise AlreadyExists(message)
            raise AgentError(f"agent {resp.status_code}: {message}")
        return payload

    def create_amphora(self, spec: AmphoraSpec) -> AmphoraInfo:
        return wire.info_from_dict(self._call("POST", "/v1/amphorae", wire.to_dict(spec)))

    def apply(self, amphora_id: str, files: RenderedFiles) -> ApplyResult:
        body = wire.to_dict(files)
        return wire.result_from_dict(self._call("PUT", f"/v1/amphorae/{amphora_id}/files", body))

    def delete_amphora(self, amphora_id: str) -> None:
        self._call("DELETE", f"/v1/amphorae/{amphora_id}")

    def status(self, amphora_id: str) -> AmphoraStatus:
        return wire.status_from_dict(self._call("GET", f"/v1/amphorae/{amphora_id}/status"))

    def list_amphorae(self) -> list[AmphoraInfo]:
        return [wire.info_from_dict(d) for d in self._call("GET", "/v1/amphorae")]
