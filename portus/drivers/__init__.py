"""Portus drivers layer."""
