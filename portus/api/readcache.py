"""A response cache for GETs of the LBaaS tree, valid while the database has not changed.

Clients poll: Terraform, the Kubernetes cloud provider and tempest read the same load balancer
or list again and again while nothing changes. A hit replays the bytes of the last identical
response (same path, query, caller's project and roles, host) if the database's commit counter
has not moved since that response was built. The counter is read *before* the handler runs, so
a response is never stored under a revision newer than the snapshot it was built from: any
commit, by any process, makes every entry stale at once. Where the database has no cheap
commit counter (PostgreSQL), ``revision`` returns None and nothing is cached (decision D12).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portus.service.policy import RequestContext

Revision = Callable[[], int | None]
Key = tuple[str, bytes, bytes, str | None, frozenset[str]]
PREFIXES = ("/v2/lbaas/", "/v2.0/lbaas/")
# The resources clients poll, whose answers are functions of database rows alone (providers
# and quota defaults also read the configuration, so they are not here).
RESOURCES = frozenset({"loadbalancers", "listeners", "pools", "healthmonitors", "l7policies"})


def cacheable(scope: Scope) -> bool:
    path: str = scope["path"]
    if scope["method"] != "GET" or not path.startswith(PREFIXES):
        return False
    resource = path.split("/", 4)[3]
    # Statistics are counters the health process writes; they are DB rows too, but a client
    # reading them wants them fresh more than fast, and they are rarely polled in a tight loop.
    return resource in RESOURCES and not path.endswith("/stats")


class ReadCache:
    def __init__(
        self, app: ASGIApp, revision: Revision, size: int = 128, max_bytes: int = 32 << 20
    ) -> None:
        self.app = app
        self.revision = revision
        self.size = size
        self.max_bytes = max_bytes  # a list of 1,000 LBs is ~0.7 MB
        self._bytes = 0
        self._entries: OrderedDict[Key, tuple[int, list[Message]]] = OrderedDict()

    def _key(self, scope: Scope) -> Key:
        ctx: RequestContext = scope["state"]["ctx"]
        host = next((v for k, v in scope["headers"] if k == b"host"), b"")
        return (scope["path"], scope["query_string"], host, ctx.project_id, ctx.roles)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not cacheable(scope):
            await self.app(scope, receive, send)
            return
        revision = self.revision()
        if revision is None:
            await self.app(scope, receive, send)
            return
        key = self._key(scope)
        hit = self._entries.get(key)
        if hit is not None and hit[0] == revision:
            self._entries.move_to_end(key)
            for message in hit[1]:
                await send(message)
            return
        messages: list[Message] = []

        async def recording_send(message: Message) -> None:
            messages.append(message)
            await send(message)

        await self.app(scope, receive, recording_send)
        if _complete_ok(messages):
            self._store(key, revision, messages)

    def _store(self, key: Key, revision: int, messages: list[Message]) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= _size(old[1])
        self._entries[key] = (revision, messages)
        self._bytes += _size(messages)
        while self._entries and (len(self._entries) > self.size or self._bytes > self.max_bytes):
            _, (_, dropped) = self._entries.popitem(last=False)
            self._bytes -= _size(dropped)


def _size(messages: list[Message]) -> int:
    return len(messages[1].get("body", b""))


def _complete_ok(messages: list[Any]) -> bool:
    """A 200 whose body was sent whole (streamed or errored responses are not kept)."""
    return (
        len(messages) == 2
        and messages[0].get("type") == "http.response.start"
        and messages[0].get("status") == 200
        and messages[1].get("type") == "http.response.body"
        and not messages[1].get("more_body", False)
    )
