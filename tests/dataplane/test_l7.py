"""L7 policies through a real amphora: rules route, redirect and reject as a client sees it.

One HTTP listener; every REDIRECT_TO_POOL pool has one member answering the pool's name, and
the default pool answers ``default``.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from dataplane_support import Backend, Portus, create_lb, member, needs_root

pytestmark = [needs_root, pytest.mark.dataplane]

POOLS = ("default", "host", "path", "header", "cookie", "file", "invert")


def _rule(type_: str, compare: str, value: str, **extra: Any) -> dict[str, Any]:
    return {"type": type_, "compare_type": compare, "value": value, **extra}


def _to_pool(pool: str, position: int, *rules: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": pool,
        "action": "REDIRECT_TO_POOL",
        "redirect_pool": {"name": pool},
        "position": position,
        "rules": list(rules),
    }


@pytest.fixture(scope="module")
def lb(amp_portus_module: Portus, module_backends: Any) -> dict[str, Any]:
    servers: dict[str, Backend] = {name: module_backends(name) for name in POOLS}
    pools = [
        {
            "name": name,
            "protocol": "HTTP",
            "lb_algorithm": "ROUND_ROBIN",
            "members": [member(servers[name])],
        }
        for name in POOLS
    ]
    policies = [
        {
            "name": "reject",
            "action": "REJECT",
            "position": 1,
            "rules": [_rule("PATH", "STARTS_WITH", "/admin")],
        },
        {
            "name": "moved",
            "action": "REDIRECT_TO_URL",
            "redirect_url": "https://example.com/moved",
            "redirect_http_code": 301,
            "position": 2,
            "rules": [_rule("PATH", "EQUAL_TO", "/old")],
        },
        {
            "name": "prefix",
            "action": "REDIRECT_PREFIX",
            "redirect_prefix": "https://new.example.com",
            "position": 3,
            "rules": [_rule("PATH", "STARTS_WITH", "/legacy")],
        },
        _to_pool("host", 4, _rule("HOST_NAME", "EQUAL_TO", "www.example.com")),
        _to_pool("path", 5, _rule("PATH", "STARTS_WITH", "/api")),
        _to_pool("header", 6, _rule("HEADER", "EQUAL_TO", "gold", key="X-Tenant")),
        _to_pool("cookie", 7, _rule("COOKIE", "EQUAL_TO", "yes", key="beta")),
        _to_pool("file", 8, _rule("FILE_TYPE", "EQUAL_TO", "jpg")),
        _to_pool(
            "invert",
            9,
            _rule("PATH", "STARTS_WITH", "/inv"),
            _rule("HEADER", "EQUAL_TO", "prod", key="X-Env", invert=True),
        ),
    ]
    listener = {
        "name": "web",
        "protocol": "HTTP",
        "protocol_port": 80,
        "default_pool": {"name": "default"},
        "l7policies": policies,
    }
    return create_lb(amp_portus_module, name="l7", pools=pools, listeners=[listener])


def get(lb: dict[str, Any], path: str, **kw: Any) -> httpx.Response:
    with httpx.Client(base_url=f"http://{lb['vip_address']}", timeout=5, **kw) as c:
        return c.get(path)


@pytest.mark.parametrize(
    ("path", "kw", "pool"),
    [
        ("/", {}, "default"),
        ("/", {"headers": {"Host": "www.example.com"}}, "host"),
        ("/", {"headers": {"Host": "WWW.Example.COM"}}, "host"),
        ("/api/v1/things", {}, "path"),
        ("/apx", {}, "default"),
        ("/", {"headers": {"X-Tenant": "gold"}}, "header"),
        ("/", {"headers": {"X-Tenant": "silver"}}, "default"),
        ("/", {"cookies": {"beta": "yes"}}, "cookie"),
        ("/", {"cookies": {"beta": "no"}}, "default"),
        ("/img/cat.jpg", {}, "file"),
        ("/img/catjpg", {}, "default"),
        ("/inv/x", {}, "invert"),
        ("/inv/x", {"headers": {"X-Env": "prod"}}, "default"),
    ],
)
def test_rule_routes_to_its_pool(lb: dict[str, Any], path: str, kw: Any, pool: str) -> None:
    r = get(lb, path, **kw)
    assert (r.status_code, r.text) == (200, pool)


def test_redirect_to_url_uses_the_given_code_and_location(lb: dict[str, Any]) -> None:
    r = get(lb, "/old")
    assert r.status_code == 301
    assert r.headers["location"] == "https://example.com/moved"


def test_redirect_prefix_keeps_the_path_with_default_302(lb: dict[str, Any]) -> None:
    r = get(lb, "/legacy/page?q=1")
    assert r.status_code == 302
    assert r.headers["location"] == "https://new.example.com/legacy/page?q=1"


def test_reject_answers_403(lb: dict[str, Any]) -> None:
    assert get(lb, "/admin/users").status_code == 403


def test_first_matching_position_wins_and_reordering_changes_it(
    lb: dict[str, Any], amp_portus_module: Portus
) -> None:
    both = {"headers": {"Host": "www.example.com"}}
    assert get(lb, "/api", **both).text == "host"  # host (4) before path (5)
    assert get(lb, "/admin", **both).status_code == 403  # reject (1) before host (4)
    api = amp_portus_module.client
    policy = api.get("/v2/lbaas/l7policies", params={"name": "path"}).json()["l7policies"][0]
    r = api.put(f"/v2/lbaas/l7policies/{policy['id']}", json={"l7policy": {"position": 1}})
    assert r.status_code == 200, r.text
    amp_portus_module.wait_lb(lb["id"])
    try:
        assert get(lb, "/api", **both).text == "path"
        assert get(lb, "/admin", **both).status_code == 403
    finally:
        api.put(f"/v2/lbaas/l7policies/{policy['id']}", json={"l7policy": {"position": 5}})
        amp_portus_module.wait_lb(lb["id"])
