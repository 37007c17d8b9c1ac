"""Portus agent layer: the host side of the data plane (amphorae on one LB host).

Entry point: ``portus.agent.agent.Agent`` (create/apply/status/delete amphorae).
Pieces: ``netns`` (namespaces, veths, bridges), ``cgroups`` (limits), ``haproxy`` (master-worker
process and master CLI), ``cfgdiff`` + ``runtime`` (member changes without reload), ``apply``
(validate, delta or seamless reload, probe, rollback), ``nft``, ``keepalived``, ``udphealth``,
``pki`` + ``server`` (the mTLS HTTPS API), ``wire`` (JSON shapes), ``model`` (dataclasses).
"""
