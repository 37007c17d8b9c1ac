"""Errors that reach the client, each with its HTTP status and Octavia's message text.

They live in the service layer so use cases can raise them; the API turns every one into
Octavia's body ``{"faultcode", "faultstring", "debuginfo"}``.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    code = 400

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidInput(ApiError):
    """400 for a field whose value has the wrong type, range or choice."""

    def __init__(self, field: str, value: Any, reason: str) -> None:
        super().__init__(f"Invalid input for field/attribute {field}. Value: '{value}'. {reason}")


class ValidationFailure(ApiError):
    def __init__(self, detail: str) -> None:
        super().__init__(f"Validation failure: {detail}")


class NotFound(ApiError):
    code = 404

    def __init__(self, resource: str, id_: str) -> None:
        super().__init__(f"{resource} {id_} not found.")


class Conflict(ApiError):
    code = 409


class Immutable(Conflict):
    def __init__(self, resource: str, id_: str) -> None:
        super().__init__(f"{resource} {id_} is immutable and cannot be updated.")


class Forbidden(ApiError):
    code = 403

    def __init__(
        self, message: str = "Policy does not allow this request to be performed."
    ) -> None:
        super().__init__(message)


class QuotaExceeded(Forbidden):
    def __init__(self, resource: str) -> None:
        super().__init__(f"Quota has been met for resources: {resource}")


class NotImplementedByProvider(ApiError):
    code = 501


def fault_body(status: int, message: str) -> dict[str, Any]:
    return {
        "faultcode": "Client" if status < 500 else "Server",
        "faultstring": message,
        "debuginfo": None,
    }
