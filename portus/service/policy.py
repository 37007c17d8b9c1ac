"""Who may do what: Octavia's role model and project scoping, as pure functions of a context."""

from __future__ import annotations

from dataclasses import dataclass, field

from portus.service.errors import Forbidden

ADMIN_ROLES = frozenset({"admin", "load-balancer_admin"})
GLOBAL_READ_ROLES = ADMIN_ROLES | {"load-balancer_global_observer"}
PROJECT_READ_ROLES = frozenset(
    {"reader", "member", "load-balancer_observer", "load-balancer_member"}
)
PROJECT_WRITE_ROLES = frozenset({"member", "load-balancer_member"})
QUOTA_ADMIN_ROLES = ADMIN_ROLES | {"load-balancer_quota_admin"}


@dataclass(frozen=True)
class RequestContext:
    """The caller: a project and its roles (noauth gives one admin context)."""

    project_id: str | None
    roles: frozenset[str] = field(default_factory=frozenset)
    user_id: str | None = None
    auth_enabled: bool = False

    @property
    def is_admin(self) -> bool:
        return bool(self.roles & ADMIN_ROLES)

    @property
    def can_read_all(self) -> bool:
        return bool(self.roles & GLOBAL_READ_ROLES)

    def can_read(self, project_id: str | None) -> bool:
        if self.can_read_all:
            return True
        return project_id == self.project_id and bool(self.roles & PROJECT_READ_ROLES)

    def can_write(self, project_id: str | None) -> bool:
        if self.is_admin:
            return True
        return project_id == self.project_id and bool(self.roles & PROJECT_WRITE_ROLES)

    def require_read(self, project_id: str | None) -> None:
        if not self.can_read(project_id):
            raise Forbidden()

    def require_write(self, project_id: str | None) -> None:
        if not self.can_write(project_id):
            raise Forbidden()

    def require_admin(self) -> None:
        if not self.is_admin:
            raise Forbidden()

    def require_quota_read(self, project_id: str | None) -> None:
        if self.roles & QUOTA_ADMIN_ROLES or self.can_read_all:
            return
        self.require_read(project_id)

    def require_quota_write(self) -> None:
        if not self.roles & QUOTA_ADMIN_ROLES:
            raise Forbidden()

    def project_for_create(self, requested: str | None) -> str:
        """The project a new object belongs to; only admins may create for another project."""
        if requested and requested != self.project_id:
            self.require_admin()
            return requested
        if self.project_id is None:
            raise Forbidden()
        return self.project_id


def admin_context(project_id: str) -> RequestContext:
    return RequestContext(project_id=project_id, roles=frozenset({"admin"}))
