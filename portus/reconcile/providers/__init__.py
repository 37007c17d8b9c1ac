"""Providers: what turns an LB's desired graph into something real (or nothing, for noop)."""
