"""A real OpenStack Keystone on 127.0.0.1, for the keystone-auth tests.

Keystone comes from PyPI into its own virtualenv (.venv-keystone, made by `./dev install`
from scripts/keystone-requirements.txt), keeps its data in SQLite inside a temp directory and
is served by gunicorn on a free loopback port.

Setting Keystone up is slow (keystone-manage db_sync, fernet_setup, credential_setup,
bootstrap, then the Octavia roles and a service user through the API: 10-20 s on two cores),
so it is done once per Keystone install into a template kept in .venv-keystone; each
`running_keystone` copies the template, points the catalog at its own port and only starts
the server (a few seconds).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.paths import keystone_venv
from tests.support.ports import free_port

REGION = "RegionOne"
DOMAIN = "default"
ADMIN_USER = "admin"
ADMIN_PROJECT = "admin"
SERVICE_PROJECT = "service"
SERVICE_USER = "portus"
START_TIMEOUT = 60.0

# Roles the Octavia policy knows, plus the defaults Keystone's bootstrap already creates.
OCTAVIA_ROLES = (
    "load-balancer_observer",
    "load-balancer_global_observer",
    "load-balancer_member",
    "load-balancer_quota_admin",
    "load-balancer_admin",
)
ALL_ROLES = (*OCTAVIA_ROLES, "reader", "member", "admin", "service")

_CONFIG = """\
[DEFAULT]
log_file = {base}/keystone.log
debug = false
[identity]
# bcrypt's minimum cost: every token request hashes a password, the default 12 costs ~0.3 s.
password_hash_rounds = 4
[database]
connection = sqlite:///{base}/keystone.db
[token]
provider = fernet
expiration = 3600
[fernet_tokens]
key_repository = {base}/fernet-keys
[credential]
key_repository = {base}/credential-keys
[oslo_policy]
enforce_new_defaults = true
enforce_scope = false
"""

# keystone's WSGI loader parses sys.argv with oslo.config, which chokes on gunicorn's own
# arguments: the shim clears them before importing the application.
_WSGI_SHIM = """\
import sys

sys.argv = sys.argv[:1]
from keystone.wsgi.api import application  # noqa: E402,F401
"""


class KeystoneUnavailable(RuntimeError):
    """.venv-keystone is missing: run ./dev install (without PORTUS_SKIP_KEYSTONE=1)."""


def keystone_installed() -> bool:
    """Whether the Keystone virtualenv is there, so tests can skip cleanly when it is not."""
    venv = keystone_venv()
    return (venv / "bin" / "keystone-manage").exists() and (venv / "bin" / "gunicorn").exists()


@dataclass(frozen=True)
class User:
    """A Keystone user created by a test, with what is needed to log in as it."""

    id: str
    name: str
    password: str
    project_id: str
    project_name: str
    roles: tuple[str, ...]


@dataclass
class KeystoneInfo:
    """A running Keystone: where it is, how to log in as admin, and helpers to populate it."""

    auth_url: str  # http://127.0.0.1:PORT/v3
    admin_username: str
    admin_password: str
    admin_project: str
    service_username: str
    service_password: str
    service_project: str
    region: str
    base_dir: Path
    pid: int
    _admin_token: str = field(default="", repr=False)
    _role_ids: dict[str, str] = field(default_factory=dict, repr=False)

    # --- tokens ---------------------------------------------------------------------------

    def token(self, username: str, password: str, project: str | None = None) -> str:
        """Issue a token by password (project-scoped when `project` is given)."""
        return self.token_with_body(username, password, project)[0]

    def token_with_body(
        self, username: str, password: str, project: str | None = None
    ) -> tuple[str, dict[str, Any]]:
        """Issue a token and also return Keystone's token body (roles, project, catalog)."""
        auth: dict[str, Any] = {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": username, "domain": {"id": DOMAIN}, "password": password}
                },
            }
        }
        if project is not None:
            auth["scope"] = {"project": {"name": project, "domain": {"id": DOMAIN}}}
        resp = httpx.post(f"{self.auth_url}/auth/tokens", json={"auth": auth}, timeout=30)
        _check(resp)
        body: dict[str, Any] = resp.json()
        return resp.headers["X-Subject-Token"], body

    def admin_token(self) -> str:
        """A project-scoped admin token, cached (tokens live an hour)."""
        if not self._admin_token:
            self._admin_token = self.token(
                self.admin_username, self.admin_password, self.admin_project
            )
        return self._admin_token

    def validate(self, token: str) -> dict[str, Any]:
        """Validate `token` as admin and return its body; raises httpx.HTTPStatusError if bad."""
        resp = self._request("GET", "/auth/tokens", headers={"X-Subject-Token": token})
        return resp.json()["token"]  # type: ignore[no-any-return]

    def revoke(self, token: str) -> None:
        self._request("DELETE", "/auth/tokens", headers={"X-Subject-Token": token})

    # --- populating -----------------------------------------------------------------------

    def create_project(self, name: str) -> str:
        """Create a project in the default domain; return its id."""
        body = {"project": {"name": name, "domain_id": DOMAIN, "enabled": True}}
        return str(self._request("POST", "/projects", json=body).json()["project"]["id"])

    def project_id(self, name: str) -> str:
        projects = self._request("GET", "/projects", params={"name": name}).json()["projects"]
        if not projects:
            raise KeyError(f"no project {name!r}")
        return str(projects[0]["id"])

    def role_id(self, name: str) -> str:
        if name not in self._role_ids:
            roles = self._request("GET", "/roles", params={"name": name}).json()["roles"]
            if not roles:
                raise KeyError(f"no role {name!r}")
            self._role_ids[name] = str(roles[0]["id"])
        return self._role_ids[name]

    def create_role(self, name: str) -> str:
        resp = self._request("POST", "/roles", json={"role": {"name": name}})
        self._role_ids[name] = str(resp.json()["role"]["id"])
        return self._role_ids[name]

    def assign_role(self, user_id: str, project_id: str, role: str) -> None:
        role_id = self.role_id(role)
        self._request("PUT", f"/projects/{project_id}/users/{user_id}/roles/{role_id}")

    def create_user(
        self,
        name: str,
        project: str,
        roles: tuple[str, ...] | list[str] = ("load-balancer_member",),
        password: str | None = None,
    ) -> User:
        """Create a user with `roles` on `project` (created when it does not exist yet)."""
        try:
            project_id = self.project_id(project)
        except KeyError:
            project_id = self.create_project(project)
        password = password or secrets.token_urlsafe(12)
        body = {
            "user": {
                "name": name,
                "password": password,
                "domain_id": DOMAIN,
                "default_project_id": project_id,
                "enabled": True,
            }
        }
        user_id = str(self._request("POST", "/users", json=body).json()["user"]["id"])
        for role in roles:
            self.assign_role(user_id, project_id, role)
        return User(user_id, name, password, project_id, project, tuple(roles))

    def user_token(self, user: User) -> str:
        return self.token(user.name, user.password, user.project_name)

    def register_service(self, service_type: str, url: str, name: str | None = None) -> str:
        """Put a service (e.g. `load-balancer` at Portus' URL) into the catalog, 3 interfaces.

        The openstack CLI with password auth finds Portus through this catalog entry.
        """
        service = {"service": {"type": service_type, "name": name or service_type}}
        service_id = str(self._request("POST", "/services", json=service).json()["service"]["id"])
        for interface in ("public", "internal", "admin"):
            endpoint = {
                "endpoint": {
                    "service_id": service_id,
                    "interface": interface,
                    "url": url,
                    "region_id": self.region,
                }
            }
            self._request("POST", "/endpoints", json=endpoint)
        return service_id

    def register_portus(self, url: str) -> None:
        """Catalog entries the openstack CLI needs to reach Portus with a Keystone login.

        `load-balancer` is Portus. octaviaclient also builds openstacksdk's `network` proxy
        for every loadbalancer command (to resolve subnet/port names), which fails unless a
        `network` endpoint exists; it points at Portus too and is only contacted when a
        command names a subnet, network or port. `key-manager` is Portus' built-in certificate
        store, unversioned like Barbican's own catalog entry (clients discover `/v1` there).
        """
        self.register_service("load-balancer", url, name="portus")
        self.register_service("network", url, name="portus-network")
        self.register_service("key-manager", url.rstrip("/") + "/key-manager", name="portus-km")

    def middleware_config(self) -> dict[str, str]:
        """keystonemiddleware auth_token options for a Portus API that trusts this Keystone."""
        return {
            "www_authenticate_uri": self.auth_url,
            "auth_url": self.auth_url,
            "auth_type": "password",
            "username": self.service_username,
            "password": self.service_password,
            "project_name": self.service_project,
            "user_domain_id": DOMAIN,
            "project_domain_id": DOMAIN,
            "region_name": self.region,
            "service_token_roles_required": "true",
            "service_token_roles": "service",
        }

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"X-Auth-Token": self.admin_token(), **kwargs.pop("headers", {})}
        resp = httpx.request(
            method, f"{self.auth_url}{path}", headers=headers, timeout=30, **kwargs
        )
        _check(resp)
        return resp


def _check(resp: httpx.Response) -> None:
    """Raise with Keystone's own error text, which says what was wrong."""
    if resp.is_error:
        raise httpx.HTTPStatusError(
            f"Keystone {resp.request.method} {resp.request.url} -> {resp.status_code}: {resp.text}",
            request=resp.request,
            response=resp,
        )


# --- process management -----------------------------------------------------------------------


def _env(base: Path) -> dict[str, str]:
    return {
        "PATH": f"{keystone_venv() / 'bin'}:/usr/bin:/bin",
        "HOME": str(base),
        "LANG": "C.UTF-8",
        "OS_KEYSTONE_CONFIG_FILES": str(base / "keystone.conf"),
        "PYTHONWARNINGS": "ignore",  # eventlet's deprecation banner on every command
    }


def _manage(base: Path, *args: str) -> subprocess.Popen[str]:
    cmd = [str(keystone_venv() / "bin" / "keystone-manage"), "--config-file"]
    cmd += [str(base / "keystone.conf"), *args]
    return subprocess.Popen(
        cmd,
        env=_env(base),
        cwd=base,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _finish(procs: list[subprocess.Popen[str]], base: Path) -> None:
    """Wait for keystone-manage runs; raise with their output and Keystone's log on failure."""
    failures = []
    for proc in procs:
        out, _ = proc.communicate(timeout=START_TIMEOUT)
        if proc.returncode != 0:
            failures.append(f"keystone-manage {proc.args!r} exited {proc.returncode}:\n{out}")
    if failures:
        log = base / "keystone.log"
        tail = log.read_text()[-3000:] if log.exists() else ""
        raise RuntimeError("Keystone setup failed:\n" + "\n".join(failures) + tail)


def _setup(base: Path, port: int, admin_password: str) -> None:
    url = f"http://127.0.0.1:{port}/v3"
    owner = ["--keystone-user", "root", "--keystone-group", "root"]
    if os.geteuid() != 0:
        owner = ["--keystone-user", str(os.geteuid()), "--keystone-group", str(os.getegid())]
    # The three are independent: run them side by side (each is ~2 s of imports).
    _finish(
        [
            _manage(base, "db_sync"),
            _manage(base, "fernet_setup", *owner),
            _manage(base, "credential_setup", *owner),
        ],
        base,
    )
    bootstrap = ["bootstrap", "--bootstrap-password", admin_password]
    bootstrap += ["--bootstrap-username", ADMIN_USER, "--bootstrap-project-name", ADMIN_PROJECT]
    bootstrap += ["--bootstrap-region-id", REGION]
    for kind in ("admin", "internal", "public"):
        bootstrap += [f"--bootstrap-{kind}-url", url]
    _finish([_manage(base, *bootstrap)], base)


def _serve(base: Path, port: int) -> subprocess.Popen[bytes]:
    (base / "portus_keystone_wsgi.py").write_text(_WSGI_SHIM)
    log = (base / "gunicorn.log").open("ab")
    try:
        cmd = [str(keystone_venv() / "bin" / "gunicorn"), "--chdir", str(base)]
        cmd += ["--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "8"]
        cmd += ["--worker-class", "gthread", "--timeout", "60", "--graceful-timeout", "3"]
        cmd += ["--no-control-socket"]
        cmd += ["--name", "portus-keystone", "--pid", str(base / "gunicorn.pid")]
        cmd += ["portus_keystone_wsgi:application"]
        return subprocess.Popen(
            cmd,
            env=_env(base),
            cwd=base,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        log.close()


def _wait_ready(proc: subprocess.Popen[bytes], url: str, base: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    log = (base / "gunicorn.log").read_text(errors="replace")[-3000:]
    raise RuntimeError(f"Keystone did not answer on {url} (exit {proc.poll()}):\n{log}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGINT (gunicorn's quick shutdown) to the master we started, SIGKILL if it lingers."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _populate(info: KeystoneInfo) -> None:
    existing = {r["name"] for r in info._request("GET", "/roles").json()["roles"]}
    for role in ALL_ROLES:
        if role not in existing:
            info.create_role(role)
    info.create_user(
        info.service_username,
        info.service_project,
        roles=("service", "admin"),
        password=info.service_password,
    )


def _info(base: Path, port: int, pid: int, secrets_: dict[str, str]) -> KeystoneInfo:
    return KeystoneInfo(
        auth_url=f"http://127.0.0.1:{port}/v3",
        admin_username=ADMIN_USER,
        admin_password=secrets_["admin_password"],
        admin_project=ADMIN_PROJECT,
        service_username=SERVICE_USER,
        service_password=secrets_["service_password"],
        service_project=SERVICE_PROJECT,
        region=REGION,
        base_dir=base,
        pid=pid,
    )


# --- the template: a populated Keystone's files, built once per Keystone install ---------------

_STATE = ("keystone.db", "fernet-keys", "credential-keys", "secrets.json")


def _template_dir() -> Path:
    """Where the populated state is cached, keyed by everything that shapes it."""
    stamp = keystone_venv() / ".portus-install-stamp"
    key = hashlib.sha256()
    for part in (stamp.read_text() if stamp.exists() else "", _CONFIG, repr(ALL_ROLES)):
        key.update(part.encode())
    return keystone_venv() / "portus-templates" / key.hexdigest()[:16]


def _build_template(target: Path) -> None:
    """Set up and populate a Keystone the slow way (~15 s), then keep its files in `target`.

    Built in a scratch directory and renamed into place, so a half-built template is never
    seen and two test processes building at once both end up with a complete one.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="build-", dir=target.parent))
    try:
        port = free_port()
        secrets_ = {
            "admin_password": secrets.token_urlsafe(12),
            "service_password": secrets.token_urlsafe(12),
            "endpoint_url": f"http://127.0.0.1:{port}/v3",
        }
        (scratch / "keystone.conf").write_text(_CONFIG.format(base=scratch))
        _setup(scratch, port, secrets_["admin_password"])
        proc = _serve(scratch, port)
        try:
            _wait_ready(proc, secrets_["endpoint_url"], scratch)
            _populate(_info(scratch, port, proc.pid, secrets_))
        finally:
            _stop(proc)
        (scratch / "secrets.json").write_text(json.dumps(secrets_))
        keep = scratch.with_name(scratch.name + "-state")
        keep.mkdir()
        for name in _STATE:
            (scratch / name).rename(keep / name)
        try:
            keep.rename(target)
        except OSError:  # another process finished first: its template is as good
            shutil.rmtree(keep, ignore_errors=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _instantiate(template: Path, base: Path, port: int) -> dict[str, str]:
    """Copy the template's state into `base` and point its catalog at the new port."""
    for name in _STATE:
        src = template / name
        if src.is_dir():
            shutil.copytree(src, base / name)
        else:
            shutil.copy2(src, base / name)
    secrets_: dict[str, str] = json.loads((base / "secrets.json").read_text())
    new_url = f"http://127.0.0.1:{port}/v3"
    with contextlib.closing(sqlite3.connect(base / "keystone.db")) as db, db:
        db.execute("UPDATE endpoint SET url = ? WHERE url = ?", (new_url, secrets_["endpoint_url"]))
    (base / "keystone.conf").write_text(_CONFIG.format(base=base))
    return secrets_


@contextlib.contextmanager
def running_keystone(tmpdir: Path | str) -> Iterator[KeystoneInfo]:
    """Run a private Keystone with its state under `tmpdir`; stop it when the block exits.

    The first call after `./dev install` builds a populated template (~15 s); later ones copy
    it and only start the server (~3 s). Every call gets its own database copy, so what one
    test creates is never seen by another Keystone.
    Raises KeystoneUnavailable when .venv-keystone is missing (tests should skip then).
    """
    if not keystone_installed():
        raise KeystoneUnavailable(f"no Keystone in {keystone_venv()}: run ./dev install")
    template = _template_dir()
    if not template.exists():
        _build_template(template)
    base = Path(tempfile.mkdtemp(prefix="keystone-", dir=tmpdir))
    port = free_port()
    secrets_ = _instantiate(template, base, port)
    proc = _serve(base, port)
    try:
        info = _info(base, port, proc.pid, secrets_)
        _wait_ready(proc, info.auth_url, base)
        yield info
    finally:
        _stop(proc)
