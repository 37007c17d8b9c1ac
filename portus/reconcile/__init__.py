"""Portus reconcile layer."""
