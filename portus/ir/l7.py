"""L7 rules -> HAProxy ACLs, L7 policies -> ordered actions.

Mapping (as Octavia, plus FILE_TYPE made precise):

=================== ===================== =============================================
rule type           fetch                 notes
=================== ===================== =============================================
HOST_NAME           ``req.hdr(host)``     always ``-i`` (host names are case-blind)
PATH                ``path``
FILE_TYPE           ``path_end``          EQUAL_TO ``jpg`` matches ``*.jpg`` (dot added);
                                          REGEX is matched against the whole ``path``
HEADER              ``req.hdr(<key>)``
COOKIE              ``req.cook(<key>)``
SSL_CONN_HAS_CERT   ``ssl_c_used``        boolean
SSL_VERIFY_RESULT   ``ssl_c_verify``      integer equality
SSL_DN_FIELD        ``ssl_c_s_dn(<key>)``
=================== ===================== =============================================

Compare types: REGEX ``-m reg``, STARTS_WITH ``-m beg``, ENDS_WITH ``-m end``, CONTAINS
``-m sub``, EQUAL_TO ``-m str``. ``invert`` negates the ACL in the condition. Disabled rules are
dropped; a policy left with no rules, or disabled, is not rendered; REDIRECT_TO_POOL is rendered
only when its pool is enabled (otherwise the policy is skipped and a note says so).
"""

from __future__ import annotations

import re

from portus.ir.desired import L7PolicySpec, L7RuleSpec
from portus.ir.model import AclIR, ConditionIR, L7ActionIR

_COMPARE_FLAGS = {
    "REGEX": ("-m", "reg"),
    "STARTS_WITH": ("-m", "beg"),
    "ENDS_WITH": ("-m", "end"),
    "CONTAINS": ("-m", "sub"),
    "EQUAL_TO": ("-m", "str"),
}
_ACL_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.:-]")
DEFAULT_REDIRECT_CODE = 302


def acl_name(rule_id: str) -> str:
    """ACL name for a rule: its id (characters HAProxy rejects become ``_``)."""
    return _ACL_NAME_UNSAFE.sub("_", rule_id)


def translate_rule(rule: L7RuleSpec) -> AclIR:
    """One rule as an ACL (pure)."""
    name = acl_name(rule.id)
    compare = _COMPARE_FLAGS.get(rule.compare_type, ("-m", "str"))
    if rule.type == "HOST_NAME":
        return AclIR(name, "req.hdr(host)", ("-i", *compare), rule.value)
    if rule.type == "PATH":
        return AclIR(name, "path", compare, rule.value)
    if rule.type == "FILE_TYPE":
        if rule.compare_type == "REGEX":
            return AclIR(name, "path", compare, rule.value)
        ext = rule.value if rule.value.startswith(".") else "." + rule.value
        return AclIR(name, "path_end", (), ext)
    if rule.type == "HEADER":
        return AclIR(name, f"req.hdr({rule.key})", compare, rule.value)
    if rule.type == "COOKIE":
        return AclIR(name, f"req.cook({rule.key})", compare, rule.value)
    if rule.type == "SSL_CONN_HAS_CERT":
        return AclIR(name, "ssl_c_used", (), None)
    if rule.type == "SSL_VERIFY_RESULT":
        return AclIR(name, "ssl_c_verify", (), str(int(rule.value)))
    if rule.type == "SSL_DN_FIELD":
        return AclIR(name, f"ssl_c_s_dn({rule.key})", compare, rule.value)
    raise ValueError(f"unknown L7 rule type {rule.type!r}")


def policy_order(policies: tuple[L7PolicySpec, ...]) -> list[L7PolicySpec]:
    """Policies in evaluation order: by position, ties broken by id for determinism."""
    return sorted(policies, key=lambda p: (p.position, p.id))


def translate_policy(
    policy: L7PolicySpec, backend_for_pool: dict[str, str]
) -> tuple[L7ActionIR, tuple[AclIR, ...]] | str:
    """An enabled policy as (action, its ACLs), or a note saying why it is not rendered.

    ``backend_for_pool`` maps enabled pool ids to this listener's backend names.
    """
    if not policy.admin_state_up:
        return f"l7policy {policy.id}: disabled, not rendered"
    rules = sorted((r for r in policy.rules if r.admin_state_up), key=lambda r: r.id)
    if not rules:
        return f"l7policy {policy.id}: no enabled rules, not rendered"
    code = policy.redirect_http_code or DEFAULT_REDIRECT_CODE
    target: str | None
    if policy.action == "REJECT":
        kind, target, code_or_none = "deny", None, None
    elif policy.action == "REDIRECT_TO_URL":
        kind, target, code_or_none = "redirect_location", policy.redirect_url, code
    elif policy.action == "REDIRECT_PREFIX":
        kind, target, code_or_none = "redirect_prefix", policy.redirect_prefix, code
    elif policy.action == "REDIRECT_TO_POOL":
        target = backend_for_pool.get(policy.redirect_pool_id or "")
        if target is None:
            return (
                f"l7policy {policy.id}: pool {policy.redirect_pool_id} missing or disabled, "
                "not rendered"
            )
        kind, code_or_none = "use_backend", None
    else:
        return f"l7policy {policy.id}: unknown action {policy.action}, not rendered"
    if target is None and kind != "deny":
        return f"l7policy {policy.id}: {policy.action} without a target, not rendered"
    acls = tuple(translate_rule(r) for r in rules)
    conditions = tuple(ConditionIR(acl.name, r.invert) for acl, r in zip(acls, rules, strict=True))
    return L7ActionIR(policy.id, policy.position, kind, target, code_or_none, conditions), acls
