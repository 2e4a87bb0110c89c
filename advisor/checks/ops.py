"""PRC2xx: match op sites against the catalogue's patterns and judge where they run.

The one matcher serves every op rule (and the tracer's graph facts too):
a rule is data, `matching_rules` is the only code that reads its patterns.
"""
from __future__ import annotations

import fnmatch
import math
from collections.abc import Iterable

from advisor.catalogue import Catalogue, Pattern, Rule
from advisor.facts import NOT_STATIC, OpSite
from advisor.findings import Fix

MISSING = object()
REPORTED_CONTEXTS = ("forward", "step", "helper")
CONTEXT_WORDS = {"forward": "in forward", "step": "in a training/validation step", "helper": "in a helper"}


def _argument(site: OpSite, pattern: Pattern):
    if pattern.keyword is not None and pattern.keyword in site.keywords:
        return site.keywords[pattern.keyword]
    if pattern.position is not None:
        return site.keywords.get(f"#{pattern.position}", MISSING)
    return MISSING


def _condition_holds(site: OpSite, pattern: Pattern) -> bool:
    if not pattern.conditional:
        return True
    value = _argument(site, pattern)
    if value is MISSING:
        if pattern.default is None:
            return False
        value = pattern.default
    if pattern.equals is not None:
        return value == pattern.equals and value is not NOT_STATIC
    if pattern.within is not None:
        return value is NOT_STATIC or value in pattern.within
    if pattern.not_in is not None:
        return value is NOT_STATIC or value not in pattern.not_in
    if pattern.above is not None or pattern.below is not None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                isinstance(value, float) and not math.isfinite(value)):  # (an int may be too large for a float)
            return False
        magnitude = abs(value)
        return (pattern.above is None or magnitude > pattern.above) and (
            pattern.below is None or 0 < magnitude < pattern.below)
    return True  # keyword present is enough


def pattern_matches(pattern: Pattern, site: OpSite) -> bool:
    return pattern_names(pattern, site) and _condition_holds(site, pattern)


def pattern_names(pattern: Pattern, site: OpSite) -> bool:
    """Does the pattern name the site's op (whatever its arguments)?"""
    if site.kind == "function":
        name = pattern.function or pattern.module
        return bool(name) and (site.op == name or ("*" in name and fnmatch.fnmatchcase(site.op, name)))
    if site.kind == "method":
        return pattern.method is not None and pattern.subclass is None and site.op == f"Tensor.{pattern.method}"
    if site.kind == "subclass":
        return pattern.subclass is not None and site.op == f"{pattern.subclass}.{pattern.method}"
    if site.kind == "aten":
        return pattern.aten is not None and site.op == pattern.aten
    return False


def condition_may_hold(pattern: Pattern, site: OpSite, unknown: frozenset) -> bool:
    """`_condition_holds`, where the arguments keyed in `unknown` are present with a value not known yet."""
    if pattern.keyword is not None and pattern.keyword in unknown:
        return True
    if pattern.keyword not in site.keywords and pattern.position is not None and f"#{pattern.position}" in unknown:
        return True
    return _condition_holds(site, pattern)


def matching_rules(site: OpSite, rules: Iterable[Rule]) -> list[Rule]:
    return [rule for rule in rules if any(pattern_matches(p, site) for p in rule.patterns)]


def severity_for(rule: Rule, context: str, true_half: bool) -> str | None:
    """None when the op is not reported in this context."""
    if rule.context == "anywhere":  # API misuse (PRC4xx) matters wherever it is written
        return rule.severity
    if context not in REPORTED_CONTEXTS:
        return None
    if true_half:
        return "error"
    if context == "helper":
        return "info"
    return rule.severity


def describe_context(context: str, reached_from: str | None) -> str:
    if reached_from:
        return f"in `{reached_from}`'s call path"
    return CONTEXT_WORDS.get(context, context)


def matched_detail(site: OpSite, rule: Rule) -> str:
    """`min=1e-16`-style text for the argument a conditional pattern matched on."""
    for pattern in rule.patterns:
        if pattern.conditional and pattern_matches(pattern, site):
            value = _argument(site, pattern)
            if value is not MISSING and value is not NOT_STATIC:
                name = pattern.keyword if pattern.keyword in site.keywords else f"argument {pattern.position + 1}"
                return f"`{name}={value!r}`" if pattern.keyword in site.keywords else f"{name} `{value!r}`"
    return site.detail or "a constant"


def canonical_op(site: OpSite, rule: Rule) -> str:
    for pattern in rule.patterns:
        if pattern.op and pattern_matches(pattern, site):
            return pattern.op
    return site.op


def op_rules_for(catalogue: Catalogue, fp16_possible: bool) -> list[Rule]:
    """Rules that only matter in fp16 (constants, eps) are dropped when no fp16 can run."""
    return [rule for rule in catalogue.op_rules() if fp16_possible or rule.context != "fp16"]


def fp32_region_fix(site: OpSite, rule) -> Fix | None:
    """The site's FP32 rewrite (built by the scan, fix/fp32.py) as `rule`'s fix, when that is the unsafe one."""
    return site.fp32_fix if rule.fix == "unsafe" else None
