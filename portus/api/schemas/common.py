"""Shared field types and the base model every request body uses."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


class Body(BaseModel):
    """Unknown attributes are refused (400), as Octavia does."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def given(self) -> dict[str, Any]:
        """Only the fields the client sent (PUT semantics: absent = unchanged, null = reset),
        nested bodies as plain dicts."""
        return self.model_dump(include=set(self.model_fields_set))


def _ip(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError("Value should be IP address format") from None


def _cidr(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError:
        raise ValueError("Value should be IP network format") from None


Name = Annotated[str, Field(max_length=255)]
Description = Annotated[str, Field(max_length=255)]
IdRef = Annotated[str, Field(max_length=36)]
ProjectId = Annotated[str, Field(max_length=36)]
Tag = Annotated[str, Field(max_length=255)]
Port = Annotated[int, Field(ge=1, le=65535)]
IPAddress = Annotated[str, AfterValidator(_ip)]
Cidr = Annotated[str, AfterValidator(_cidr)]
