"""The GET response cache (D12): repeated reads are replayed, but never a stale or foreign one.

Every test runs on SQLite (cache on) and PostgreSQL (no commit counter: cache off); the
assertions are what a client sees either way.
"""

from __future__ import annotations

from sqlalchemy import update

from portus.db.engine import Database
from portus.db.models import LoadBalancer
from tests.support.portus_app import Portus

LBS = "/v2/lbaas/loadbalancers"
P1 = {"X-Project-Id": "p1", "X-Roles": "member"}
P2 = {"X-Project-Id": "p2", "X-Roles": "member"}


def _names(portus: Portus, **kw: object) -> list[str]:
    r = portus.client.get(LBS, **kw)  # type: ignore[arg-type]
    assert r.status_code == 200, r.text
    return sorted(lb["name"] for lb in r.json()["loadbalancers"])


def test_a_commit_by_another_connection_is_seen_at_once(portus: Portus) -> None:
    """Another process (here: another engine on the same database) changes an LB; the next
    identical GET shows it, although the previous one could have been replayed."""
    lb = portus.create_lb(name="before")
    path = f"{LBS}/{lb['id']}"
    for _ in range(3):
        assert portus.client.get(path).json()["loadbalancer"]["name"] == "before"
        assert _names(portus) == ["before"]
    other = Database(portus.settings.db_url)
    try:
        with other.session() as s:
            s.execute(update(LoadBalancer).where(LoadBalancer.id == lb["id"]).values(name="after"))
    finally:
        other.dispose()
    assert portus.client.get(path).json()["loadbalancer"]["name"] == "after"
    assert _names(portus) == ["after"]


def test_reads_follow_the_callers_own_writes(portus: Portus) -> None:
    lb = portus.create_lb(name="one")
    assert _names(portus) == ["one"]
    r = portus.client.put(f"{LBS}/{lb['id']}", json={"loadbalancer": {"name": "two"}})
    assert r.status_code == 200
    assert _names(portus) == ["two"]
    assert portus.client.get(f"{LBS}/{lb['id']}").json()["loadbalancer"]["name"] == "two"
    portus.create_lb(name="three")
    assert _names(portus) == ["three", "two"]
    assert portus.client.delete(f"{LBS}/{lb['id']}").status_code == 204
    portus.wait_lb(lb["id"], "DELETED")
    assert _names(portus) == ["three"]


def test_one_projects_answer_is_never_replayed_to_another(portus: Portus) -> None:
    r = portus.client.post(
        LBS, json={"loadbalancer": {"vip_subnet_id": "public", "name": "mine"}}, headers=P1
    )
    assert r.status_code == 201
    portus.wait_lb(r.json()["loadbalancer"]["id"])
    lb_id = r.json()["loadbalancer"]["id"]
    for _ in range(2):
        assert _names(portus, headers=P1) == ["mine"]
        assert _names(portus, headers=P2) == []
        assert portus.client.get(f"{LBS}/{lb_id}", headers=P1).status_code == 200
        assert portus.client.get(f"{LBS}/{lb_id}", headers=P2).status_code == 403


def test_errors_and_query_variants_are_answered_afresh(portus: Portus) -> None:
    missing = f"{LBS}/00000000-0000-0000-0000-000000000000"
    assert portus.client.get(missing).status_code == 404
    assert portus.client.get(missing).status_code == 404
    portus.create_lb(name="a")
    portus.create_lb(name="b")
    assert [
        x["name"]
        for x in portus.client.get(LBS, params={"sort": "name:asc"}).json()["loadbalancers"]
    ] == ["a", "b"]
    assert [
        x["name"]
        for x in portus.client.get(LBS, params={"sort": "name:desc"}).json()["loadbalancers"]
    ] == ["b", "a"]
    assert list(portus.client.get(LBS, params={"fields": "name"}).json()["loadbalancers"][0]) == [
        "name"
    ]


def test_the_cache_holds_at_most_its_byte_budget_dropping_the_least_recent() -> None:
    import asyncio

    from starlette.types import Message, Receive, Scope, Send

    from portus.api.readcache import ReadCache
    from portus.service.policy import RequestContext

    calls: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        calls.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"x" * 400})

    cache = ReadCache(app, revision=lambda: 7, max_bytes=1000)

    async def get(path: str) -> None:
        scope = {
            "type": "http",
            "method": "GET",
            "path": path,
            "query_string": b"",
            "headers": [],
            "state": {"ctx": RequestContext(project_id="p", roles=frozenset({"admin"}))},
        }

        async def receive() -> Message:
            return {"type": "http.request", "body": b""}

        async def send(message: Message) -> None:
            pass

        await cache(scope, receive, send)

    async def scenario() -> None:
        for path in ("a", "b", "a", "c", "a", "b"):
            await get(f"/v2/lbaas/loadbalancers/{path}")

    asyncio.run(scenario())
    # a, b stored (800 B); a hit; c evicts b (least recent); a hit; b built again.
    assert [p.rsplit("/", 1)[1] for p in calls] == ["a", "b", "c", "b"]
