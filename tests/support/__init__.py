"""Plain helpers for Portus tests: real external services and processes, no pytest fixtures.

The lead wires these into conftest.py fixtures; everything here tears down what it creates.
"""
