"""Portus: load balancing as a service with the Octavia v2 API."""
