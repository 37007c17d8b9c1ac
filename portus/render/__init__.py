"""Portus render layer."""
