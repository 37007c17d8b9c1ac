"""Durable desired and observed state: models, sessions, migrations, queries."""
