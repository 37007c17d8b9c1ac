"""L7 rule bodies (the semantic checks of §4 run in the service, after PUT merging)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from portus.api.schemas.common import Body, ProjectId, Tag

RuleType = Literal[
    "HOST_NAME",
    "PATH",
    "FILE_TYPE",
    "HEADER",
    "COOKIE",
    "SSL_CONN_HAS_CERT",
    "SSL_VERIFY_RESULT",
    "SSL_DN_FIELD",
]
CompareType = Literal["REGEX", "STARTS_WITH", "ENDS_WITH", "CONTAINS", "EQUAL_TO"]


def _one_line(value: str) -> str:
    # A newline would end the HAProxy ACL line it is rendered into.
    if "\r" in value or "\n" in value:
        raise ValueError("Value should not contain CR or LF characters")
    return value


RuleText = Annotated[str, Field(max_length=255), AfterValidator(_one_line)]


class L7RuleCreate(Body):
    type: RuleType
    compare_type: CompareType
    key: RuleText | None = None
    value: RuleText
    invert: bool | None = False
    admin_state_up: bool | None = True
    tags: list[Tag] | None = None
    project_id: ProjectId | None = None
    tenant_id: ProjectId | None = None


# Inside a policy of a graph create the shape is the same.
L7RuleSingleCreate = L7RuleCreate


class L7RuleUpdate(Body):
    type: RuleType | None = None
    compare_type: CompareType | None = None
    key: RuleText | None = None
    value: RuleText | None = None
    invert: bool | None = None
    admin_state_up: bool | None = None
    tags: list[Tag] | None = None


class L7RuleCreateBody(Body):
    rule: L7RuleCreate


class L7RuleUpdateBody(Body):
    rule: L7RuleUpdate
