"""Run the real `openstack` CLI (python-openstackclient + octaviaclient) against Portus.

What users type is what the tests run: a subprocess of .venv/bin/openstack with `-f json`,
its output parsed. Two ways to authenticate, as in real deployments: none (Portus' noauth
default, endpoint given directly) and Keystone (password login, Portus found in the catalog).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tests.support.paths import venv_bin

CLI_TIMEOUT = 120.0

# Commands known to print nothing: `-f json` would be an argparse error. Anything else is tried
# with `-f json` first and rerun without it if argparse refuses (before any API call is made).
_NO_OUTPUT_VERBS = frozenset({"delete", "unset", "failover", "configure"})
_FORMAT_REFUSED = "unrecognized arguments: -f json"


class OpenstackCLIError(RuntimeError):
    """The CLI exited non-zero; `stderr` has its message (often Portus' error body)."""

    def __init__(self, argv: Sequence[str], returncode: int, stdout: str, stderr: str) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        super().__init__(
            f"openstack {' '.join(argv)} exited {returncode}:\n{stderr.strip() or stdout.strip()}"
        )


@dataclass(frozen=True)
class KeystoneLogin:
    """Password credentials for `run_openstack_keystone`."""

    auth_url: str
    username: str
    password: str
    project: str
    region: str = "RegionOne"
    domain: str = "default"


def _wants_json(args: Sequence[str]) -> bool:
    """Whether to ask for JSON: not when the caller chose a format or the verb prints nothing.

    `set` prints nothing for most resources but a table for `quota set`, so it is left to
    the fallback in `_run`.
    """
    if "-f" in args or "--format" in args:
        return False
    verbs = [a for a in args if not a.startswith("-")][:3]
    return not any(v in _NO_OUTPUT_VERBS for v in verbs)


def _clean_env(extra: Mapping[str, str] | None) -> dict[str, str]:
    """The caller's environment minus OS_* settings, so a developer's cloud config can
    never redirect a test to a real cloud."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env["OS_CLOUD"] = ""
    env.update(extra or {})
    return env


def _run(
    auth_args: Sequence[str],
    args: Sequence[str],
    *,
    parse_json: bool | None,
    timeout: float,
    env: Mapping[str, str] | None,
) -> Any:
    as_json = _wants_json(args) if parse_json is None else parse_json
    argv = [*auth_args, *args, *(["-f", "json"] if as_json else [])]
    proc = _invoke(argv, timeout, env)
    if as_json and parse_json is None and proc.returncode == 2 and _FORMAT_REFUSED in proc.stderr:
        as_json = False
        argv = [*auth_args, *args]
        proc = _invoke(argv, timeout, env)
    if proc.returncode != 0:
        raise OpenstackCLIError(argv, proc.returncode, proc.stdout, proc.stderr)
    if not as_json:
        return proc.stdout
    if not proc.stdout.strip():
        return None
    return json.loads(proc.stdout)


def _invoke(
    argv: Sequence[str], timeout: float, env: Mapping[str, str] | None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv_bin("openstack")), *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_clean_env(env),
        stdin=subprocess.DEVNULL,
        check=False,
    )


def run_openstack(
    url: str,
    *args: str,
    parse_json: bool | None = None,
    timeout: float = CLI_TIMEOUT,
    env: Mapping[str, str] | None = None,
) -> Any:
    """`openstack --os-auth-type none --os-endpoint URL ARGS -f json`, parsed.

    Returns the parsed JSON (list for `list`, dict for `show`/`create`), plain stdout for
    commands that print no table (delete, set, ...; or parse_json=False), None for empty
    JSON output. Raises OpenstackCLIError with stderr when the CLI fails.
    """
    auth = ["--os-auth-type", "none", "--os-endpoint", url]
    return _run(auth, args, parse_json=parse_json, timeout=timeout, env=env)


def run_openstack_keystone(
    login: KeystoneLogin,
    *args: str,
    parse_json: bool | None = None,
    timeout: float = CLI_TIMEOUT,
    env: Mapping[str, str] | None = None,
) -> Any:
    """Like `run_openstack`, logged in through Keystone; Portus comes from the catalog
    (register it with KeystoneInfo.register_service("load-balancer", portus_url))."""
    auth = [
        "--os-auth-type",
        "password",
        "--os-identity-api-version",
        "3",
        "--os-auth-url",
        login.auth_url,
        "--os-username",
        login.username,
        "--os-password",
        login.password,
        "--os-project-name",
        login.project,
        "--os-user-domain-id",
        login.domain,
        "--os-project-domain-id",
        login.domain,
        "--os-region-name",
        login.region,
        "--os-interface",
        "public",
    ]
    return _run(auth, args, parse_json=parse_json, timeout=timeout, env=env)
