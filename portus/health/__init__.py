"""The health process: receives amphora heartbeats, writes operating status and stats on
change, detects lost amphorae and triggers (circuit-broken) failover."""
