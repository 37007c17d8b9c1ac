"""``portus``: one command, one subcommand per process (``up`` runs them all in one).

This module is the composition root: it reads settings, builds the database, providers,
controller and API app, and wires them together. Nothing else constructs these.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from portus import config
from portus.db.engine import Database
from portus.db.migrate import upgrade
from portus.reconcile.controller import Controller, Waker
from portus.reconcile.providers.base import Provider
from portus.reconcile.providers.noop import NoopProvider
from portus.service.common import Services

log = logging.getLogger("portus")


def build_providers(settings: config.Settings) -> dict[str, Provider]:
    journal = Path(settings.noop_journal) if settings.noop_journal else None
    providers: dict[str, Provider] = {"noop": NoopProvider(settings.noop_delay, journal)}
    if settings.provider == "amphora":
        from portus.reconcile.providers.amphora import AmphoraProvider

        others = {host: remote_agent(settings, url) for host, url in settings.agents.items()}
        providers["amphora"] = AmphoraProvider(settings, build_agent(settings), agents=others)
    return providers


def remote_agent(settings: config.Settings, url: str) -> Any:
    """A client of the `portus agent` at ``url`` (mutual TLS, certificates from Portus' CA)."""
    from portus.agent.pki import PkiPaths
    from portus.drivers.remote import RemoteAgent

    paths = PkiPaths(settings.pki_dir or settings.state_dir / "pki")
    return RemoteAgent(
        url, ca_cert=paths.ca_cert, client_cert=paths.client_cert, client_key=paths.client_key
    )


def build_agent(settings: config.Settings) -> Any:
    """The agent of host ``local``: in-process, or a remote `portus agent` (mutual TLS)."""
    if settings.agent_url:
        return remote_agent(settings, settings.agent_url)
    from portus.drivers.local import LocalAgent

    return LocalAgent(settings.state_dir / "agent")


def build_controller(settings: config.Settings, db: Database, waker: Waker) -> Controller:
    return Controller(
        db,
        build_providers(settings),
        default_provider=settings.provider,
        lease_seconds=settings.lease_seconds,
        poll_seconds=settings.controller_poll_seconds,
        workers=settings.controller_workers,
        waker=waker,
    )


def heartbeat_key(settings: config.Settings) -> bytes:
    from portus.agent.heartbeat import load_key

    return load_key(settings.state_dir / "heartbeat.key", settings.heartbeat_key)


def build_health(
    settings: config.Settings, db: Database, notify: Any = None, embedded: bool = False
) -> Any:
    """The health process (heartbeat receiver, status/stats writer, failover trigger)."""
    from portus.health.service import HealthOptions, HealthService

    default_bind = "127.0.0.1:0" if embedded else config.DEFAULT_HEALTH_BIND
    options = HealthOptions(
        bind=settings.health_bind or default_bind,
        heartbeat_timeout=settings.heartbeat_timeout,
        check_interval=settings.health_check_interval,
        failover_threshold=settings.failover_threshold,
        max_skew=max(30.0, 3 * settings.heartbeat_timeout),
        heartbeat_write=max(1.0, settings.heartbeat_timeout / 3),
    )
    return HealthService(db, heartbeat_key(settings), options, notify=notify)


def build_heartbeat(settings: config.Settings, source: Any, target: tuple[str, int]) -> Any:
    """Heartbeats of the amphorae ``source`` (an agent) holds, sent to the health process."""
    from portus.agent.heartbeat import HeartbeatSender

    return HeartbeatSender(
        source, heartbeat_key(settings), [target], interval=settings.heartbeat_interval
    )


def local_agent_of(controller: Controller) -> Any:
    """The in-process agent of the amphora provider, if there is one (it sends heartbeats)."""
    from portus.drivers.local import LocalAgent

    provider = controller.providers.get("amphora")
    agent = getattr(provider, "agent", None)
    return agent if isinstance(agent, LocalAgent) else None


def _target(bind: str) -> tuple[str, int]:
    host, _, port = bind.rpartition(":")
    return host.strip("[]"), int(port)


def build_housekeeper(settings: config.Settings, db: Database, controller: Any = None) -> Any:
    """Purge, spare pool (for the amphora provider's agents) and agent cert rotation."""
    from portus.agent.pki import PkiPaths
    from portus.housekeeping.service import Housekeeper, HousekeepingOptions

    options = HousekeepingOptions(
        interval=settings.housekeeping_interval,
        expiry=settings.deleted_expiry_seconds,
        spare_pool_size=settings.spare_pool_size,
        cert_buffer=settings.cert_expiry_buffer_seconds,
    )
    provider = controller.providers.get("amphora") if controller is not None else None
    pki_dir = settings.pki_dir or settings.state_dir / "pki"
    return Housekeeper(
        db,
        options,
        agents=getattr(provider, "agents", None),
        limits=getattr(provider, "default_limits", None),
        pki=PkiPaths(pki_dir) if pki_dir.exists() else None,
    )


def build_app(settings: config.Settings, db: Database, notify: Any = None) -> Any:
    from portus.api.app import create_app

    enabled = tuple(build_providers(settings).keys())
    svc = Services(settings=settings, db=db, enabled_providers=enabled)
    if notify is not None:
        svc.notify = notify
    return create_app(svc)


def _settings(args: argparse.Namespace) -> config.Settings:
    settings = config.from_env()
    return settings.with_(
        bind=getattr(args, "bind", None),
        state_dir=Path(args.state_dir) if getattr(args, "state_dir", None) else None,
        provider=getattr(args, "provider", None),
        database_url=getattr(args, "database_url", None),
        auth_strategy=getattr(args, "auth_strategy", None),
    )


def _serve(settings: config.Settings, app: Any) -> None:
    import uvicorn

    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=settings.log_level == "debug",
    )


def cmd_up(args: argparse.Namespace) -> int:
    """api + controller (+ agent in-process) on the embedded default."""
    settings = _settings(args)
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.db_url)
    db = Database(settings.db_url)
    waker = Waker()
    controller = build_controller(settings, db, waker)
    controller.start()
    health = build_health(settings, db, waker.notify, embedded=True)
    address = health.start()
    agent = local_agent_of(controller)
    sender = build_heartbeat(settings, agent, address).start() if agent is not None else None
    housekeeper = build_housekeeper(settings, db, controller).start()
    try:
        _serve(settings, build_app(settings, db, waker.notify))
    finally:
        housekeeper.stop()
        if sender is not None:
            sender.stop()
        health.stop()
        controller.stop()
        db.dispose()
    return 0


def cmd_api(args: argparse.Namespace) -> int:
    settings = _settings(args)
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.db_url)
    db = Database(settings.db_url)
    _serve(settings, build_app(settings, db))
    return 0


def cmd_controller(args: argparse.Namespace) -> int:
    settings = _settings(args)
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.db_url)
    db = Database(settings.db_url)
    controller = build_controller(settings, db, Waker())
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    controller.start()
    log.info("controller %s running", controller.owner)
    done.wait()
    controller.stop()
    return 0


def cmd_agent(args: argparse.Namespace) -> int:
    """The LB-host agent: amphorae on this host, behind HTTPS with mutual TLS."""
    from portus.agent.agent import Agent
    from portus.agent.server import serve
    from portus.drivers.network.bridges import plug_subnet

    settings = _settings(args)
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    for subnet in settings.subnets:  # this host's bridges for the declared networks
        plug_subnet(subnet)
    source = Agent(settings.state_dir / "agent")
    sender = build_heartbeat(
        settings, source, _target(settings.health_bind or config.DEFAULT_HEALTH_BIND)
    ).start()
    try:
        serve(settings, bind=args.bind or "127.0.0.1:9443", pki_dir=settings.pki_dir)
    finally:
        sender.stop()
    return 0


def _wait_for_signal() -> None:
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait()


def cmd_health(args: argparse.Namespace) -> int:
    """The health process: heartbeats in, operating status and stats out, failover."""
    settings = _settings(args)
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.db_url)
    db = Database(settings.db_url)
    health = build_health(settings, db)
    health.start()
    _wait_for_signal()
    health.stop()
    db.dispose()
    return 0


def cmd_housekeeping(args: argparse.Namespace) -> int:
    """Housekeeping: purge expired deleted rows, keep the spare pool, rotate agent certs."""
    settings = _settings(args)
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.db_url)
    db = Database(settings.db_url)
    controller = build_controller(settings, db, Waker())  # for its providers' agents only
    housekeeper = build_housekeeper(settings, db, controller).start()
    _wait_for_signal()
    housekeeper.stop()
    db.dispose()
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Build a load balancer over two demo backends and show requests being balanced."""
    from portus.demo import run_demo

    return run_demo(args.url)


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    settings = _settings(args)
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.db_url)
    print(f"database at head: {settings.db_url}")
    return 0


def _common(p: argparse.ArgumentParser, serve: bool) -> None:
    if serve:
        p.add_argument("--bind", help="HOST:PORT to listen on (PORTUS_BIND)")
    p.add_argument("--state-dir", help="state directory (PORTUS_STATE_DIR)")
    p.add_argument("--database-url", help="SQLAlchemy URL (PORTUS_DATABASE_URL)")
    p.add_argument("--provider", choices=["noop", "amphora"], help="default provider")
    p.add_argument("--auth-strategy", choices=["noauth", "keystone"])


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="portus", description=__doc__)
    sub = root.add_subparsers(dest="command", required=True)
    for name, fn, serve in (
        ("up", cmd_up, True),
        ("api", cmd_api, True),
        ("controller", cmd_controller, False),
        ("health", cmd_health, False),
        ("housekeeping", cmd_housekeeping, False),
    ):
        p = sub.add_parser(name, help=(fn.__doc__ or name).splitlines()[0])
        _common(p, serve)
        p.set_defaults(fn=fn)
    agent = sub.add_parser("agent", help=(cmd_agent.__doc__ or "").splitlines()[0])
    _common(agent, True)
    agent.set_defaults(fn=cmd_agent)
    demo = sub.add_parser("demo", help=(cmd_demo.__doc__ or "").splitlines()[0])
    demo.add_argument("--url", default="http://127.0.0.1:9876", help="Portus API endpoint")
    demo.set_defaults(fn=cmd_demo)
    db = sub.add_parser("db", help="database maintenance")
    dbsub = db.add_subparsers(dest="db_command", required=True)
    up = dbsub.add_parser("upgrade", help="apply migrations up to head")
    _common(up, False)
    up.set_defaults(fn=cmd_db_upgrade)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    settings = _settings(args)
    logging.basicConfig(
        level=getattr(logging, settings.log_level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    return int(args.fn(args))


if __name__ == "__main__":
    sys.exit(main())
