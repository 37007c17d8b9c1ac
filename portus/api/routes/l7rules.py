"""Routes of the l7rules resource (filled in by its owner)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["l7rules"])
