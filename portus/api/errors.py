"""Every error leaves the API in Octavia's shape: {"faultcode", "faultstring", "debuginfo"}."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from portus.service.errors import ApiError, fault_body

log = logging.getLogger("portus.api")


def fault(status: int, message: str) -> JSONResponse:
    return JSONResponse(fault_body(status, message), status_code=status)


def _field(loc: tuple[Any, ...]) -> str:
    names = [str(p) for p in loc if isinstance(p, str) and p != "body"]
    return names[-1] if names else "body"


def _expected(ctx: dict[str, Any]) -> str:
    raw = str(ctx.get("expected", ""))
    parts = re.split(r",\s*|\s+or\s+", raw)
    return ", ".join(p.strip().strip("'") for p in parts if p.strip())


def validation_message(err: dict[str, Any]) -> str:
    """One pydantic error as Octavia would word it."""
    loc = tuple(err.get("loc", ()))
    kind = err.get("type", "")
    field = _field(loc)
    value = err.get("input")
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        parents = [str(p) for p in loc[:-1] if isinstance(p, str) and p != "body"]
        arg = parents[-1] if parents else "body"
        return f"Unknown attribute for argument {arg}: {loc[-1]}"
    if kind == "missing":
        return f"Invalid input for field/attribute {field}. Value: 'None'. Mandatory field missing."
    if kind == "json_invalid":
        return "Invalid JSON body."
    if kind in ("literal_error", "enum"):
        reason = f"Value should be one of: {_expected(ctx)}"
    elif kind in ("greater_than_equal", "greater_than"):
        reason = f"Value should be greater or equal to {ctx.get('ge', ctx.get('gt'))}"
    elif kind in ("less_than_equal", "less_than"):
        reason = f"Value should be lower or equal to {ctx.get('le', ctx.get('lt'))}"
    elif kind == "string_too_long":
        reason = f"Value should have a maximum character requirement of {ctx.get('max_length')}"
    elif kind == "too_long":
        reason = f"Value should have at most {ctx.get('max_length')} items"
    elif kind == "too_short":
        reason = f"Value should have at least {ctx.get('min_length')} items"
    elif kind == "string_pattern_mismatch":
        reason = "Value should match the expected pattern"
    elif kind.endswith("_type") or kind.endswith("_parsing"):
        expected = kind.split("_")[0]
        reason = f"Wrong type. Expected '{expected}', got '{type(value).__name__}'"
    else:
        reason = str(err.get("msg", "")).removeprefix("Value error, ")
    return f"Invalid input for field/attribute {field}. Value: '{value}'. {reason}"


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return fault(exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        return fault(400, validation_message(errors[0]) if errors else "Invalid input.")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "Error"
        if exc.status_code == 404 and message == "Not Found":
            message = "The resource could not be found."
        if exc.status_code == 405:
            message = "The method is not allowed for the requested URL."
        return fault(exc.status_code, message)

    @app.exception_handler(Exception)
    async def _crash(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return fault(500, "An unexpected error occurred; it has been logged.")
