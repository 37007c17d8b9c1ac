"""Health monitors and backup members through a real amphora: what clients see when a member
fails. Each test builds its own LB (members are broken on purpose) on a shared Portus."""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
import pytest

from dataplane_support import Lab, Portus, create_lb, member, needs_root, wait_until

pytestmark = [needs_root, pytest.mark.dataplane]

FAST_MONITOR = {"delay": 1, "timeout": 1, "max_retries": 1, "max_retries_down": 1}


def lb_with(p: Portus, name: str, members: list[dict[str, Any]], **pool: Any) -> str:
    lb = create_lb(
        p,
        name=name,
        listeners=[
            {
                "protocol": "HTTP",
                "protocol_port": 80,
                "default_pool": {
                    "protocol": "HTTP",
                    "lb_algorithm": "ROUND_ROBIN",
                    "members": members,
                    **pool,
                },
            }
        ],
    )
    return f"http://{lb['vip_address']}/"


def answers(url: str, n: int) -> Counter[tuple[int, str]]:
    seen: Counter[tuple[int, str]] = Counter()
    with httpx.Client(timeout=5) as c:
        for _ in range(n):
            r = c.get(url)
            seen[(r.status_code, r.text)] += 1
    return seen


def test_http_monitor_takes_a_failing_member_out(
    amp_portus_module: Portus, module_lab: Lab
) -> None:
    good, sick = module_lab.http("good"), module_lab.http("sick")
    url = lb_with(
        amp_portus_module,
        "hm-http",
        [member(good), member(sick)],
        healthmonitor={"type": "HTTP", "url_path": "/", "expected_codes": "200", **FAST_MONITOR},
    )
    assert answers(url, 4) == Counter({(200, "good"): 2, (200, "sick"): 2})
    sick.status = 500  # the application breaks; the port still answers
    assert wait_until(lambda: answers(url, 4) == Counter({(200, "good"): 4}), timeout=10)
    assert answers(url, 10) == Counter({(200, "good"): 10})
    sick.status = 200  # recovered: back in rotation
    assert wait_until(lambda: (200, "sick") in answers(url, 4), timeout=10)


def test_backup_member_serves_only_when_the_primary_is_down(
    amp_portus_module: Portus, module_lab: Lab
) -> None:
    primary, backup = module_lab.http("primary"), module_lab.http("backup")
    url = lb_with(
        amp_portus_module,
        "backup",
        [member(primary), member(backup, backup=True)],
        healthmonitor={"type": "TCP", **FAST_MONITOR},
    )
    assert answers(url, 6) == Counter({(200, "primary"): 6})
    assert backup.requests == []
    primary.stop()
    assert wait_until(lambda: answers(url, 2) == Counter({(200, "backup"): 2}), timeout=10)
    assert answers(url, 6) == Counter({(200, "backup"): 6})


def test_without_a_monitor_a_failing_member_keeps_getting_traffic(
    amp_portus_module: Portus, module_lab: Lab
) -> None:
    """The contrast to the monitor test: nothing but a health monitor takes a member out."""
    good, sick = module_lab.http("good2"), module_lab.http("sick2")
    url = lb_with(amp_portus_module, "no-hm", [member(good), member(sick)])
    sick.status = 500
    assert answers(url, 6) == Counter({(200, "good2"): 3, (500, "sick2"): 3})
