"""Portus api layer."""
