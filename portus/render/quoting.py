"""Quoting of user-supplied words for HAProxy's config tokenizer (pure)."""

from __future__ import annotations

import re

_BARE = re.compile(r"^[A-Za-z0-9_./:+=@,-]+$")


def hap_word(value: str) -> str:
    """``value`` as exactly one HAProxy config word.

    Safe words stay bare; others go in single quotes (no escapes are processed there), or, when
    they contain a single quote, in double quotes with ``\\``, ``"`` and ``$`` escaped (HAProxy
    expands ``$VAR`` inside double quotes).
    """
    if _BARE.match(value):
        return value
    if "'" not in value:
        return f"'{value}'"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'"{escaped}"'


def hap_logformat(value: str) -> str:
    """A literal string used where HAProxy expects a log-format (``%`` must be doubled)."""
    return hap_word(value.replace("%", "%%"))
