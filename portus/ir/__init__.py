"""Portus ir layer."""
