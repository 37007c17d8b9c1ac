"""The real openstack CLI, run in this process (a subprocess spends seconds importing)."""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any, Protocol


class HasUrl(Protocol):
    url: str


def openstack(portus: HasUrl, *args: str) -> Any:
    """`openstack --os-auth-type none --os-endpoint <portus.url> loadbalancer ARGS`, parsed."""
    from openstackclient import shell
    from osc_lib.clientmanager import ClientCache, ClientManager

    for attr in vars(ClientManager).values():
        if isinstance(attr, ClientCache):
            attr._handle = None  # clients are cached per class: forget the last endpoint
    out, err = io.StringIO(), io.StringIO()
    argv = ["--os-auth-type", "none", "--os-endpoint", portus.url, "loadbalancer", *args]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = shell.OpenStackShell().run(argv)
    assert code == 0, err.getvalue()
    text = out.getvalue()
    return json.loads(text) if text.strip() else None


def fault(response: Any) -> str:
    """The faultstring of an Octavia-shaped error response."""
    return str(response.json()["faultstring"])
