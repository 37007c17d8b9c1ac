"""Housekeeping: purge expired soft-deleted rows, keep the spare pool, rotate agent certs."""
