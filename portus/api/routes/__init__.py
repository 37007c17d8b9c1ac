"""Portus api/routes layer."""
