"""Errors the agent raises; one base class so callers can catch all data-plane failures."""

from __future__ import annotations


class AgentError(Exception):
    """A data-plane operation failed; the message is meant for an operator to read."""


class NotFound(AgentError):
    """The amphora named in a request does not exist on this host."""


class AlreadyExists(AgentError):
    """An amphora (or its namespace) with this id already exists on this host."""
