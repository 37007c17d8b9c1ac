"""A ``SecretReader`` over a Barbican v1 API, for clouds that run one.

Plain HTTP with httpx (the subset Octavia reads: a secret's payload, a container's secret
refs), so no castellan/oslo stack is needed. Tested against Portus' own ``/key-manager/v1``
endpoint, which speaks the same subset; there is no real Barbican on the test machines.
"""

from __future__ import annotations

import httpx

from portus.drivers.certs import CertRetrievalError


class BarbicanReader:
    """Reads secrets and containers by their full refs (URLs).

    ``endpoint`` is the Barbican v1 URL (e.g. ``https://barbican:9311/v1``); a bare id as ref is
    taken relative to it. ``token`` is a Keystone token for the service user, when required.
    """

    def __init__(
        self,
        endpoint: str,
        token: str | None = None,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        headers = {"X-Auth-Token": token} if token else {}
        self._client = httpx.Client(timeout=timeout, headers=headers, transport=transport)

    def _url(self, ref: str, kind: str) -> str:
        if ref.startswith(("http://", "https://")):
            return ref.rstrip("/")
        return f"{self.endpoint}/{kind}/{ref.rsplit('/', 1)[-1]}"

    def secret(self, ref: str) -> bytes:
        try:
            r = self._client.get(
                self._url(ref, "secrets") + "/payload",
                headers={"Accept": "application/octet-stream"},
            )
        except httpx.HTTPError as exc:
            raise CertRetrievalError(ref, f"Barbican unreachable: {exc}") from exc
        if r.status_code != 200:
            raise CertRetrievalError(ref, f"Barbican answered {r.status_code}")
        return r.content

    def container(self, ref: str) -> dict[str, str]:
        try:
            r = self._client.get(
                self._url(ref, "containers"), headers={"Accept": "application/json"}
            )
        except httpx.HTTPError as exc:
            raise CertRetrievalError(ref, f"Barbican unreachable: {exc}") from exc
        if r.status_code != 200:
            raise CertRetrievalError(ref, f"Barbican answered {r.status_code}")
        body = r.json()
        return {str(s["name"]): str(s["secret_ref"]) for s in body.get("secret_refs", [])}

    def close(self) -> None:
        self._client.close()
