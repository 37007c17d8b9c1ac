"""Portus service layer."""
