"""How a reconcile can fail: retry later (temporary) or give up with a reason (permanent)."""


class TemporaryError(Exception):
    """Something that may work on the next try (agent busy, process starting, DB contention)."""


class PermanentError(Exception):
    """The desired state cannot be realised as asked; the LB goes ERROR with this reason."""
