"""Portus agent layer."""
