"""The one rule model: every Python rule is a function registered under its code.

A rule function takes one subject (a setting, a file's AMP records, a
plugin call...) and yields `Hit`s: where, the message values, the edits.
`report` is the only place a hit becomes a `Finding`: it words the message
and the fix title from the catalogue, builds the fix and applies `# noqa`.
Op rules (PRC2xx) have no function: their TOML patterns are the rule, and
the op judgement reports their hits through `report` too.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace

from advisor.facts import Span
from advisor.findings import Finding, Fix


@dataclass(frozen=True)
class Hit:
    """One place a rule fires; `noqa_lines` are further lines whose `# noqa` covers it
    (the closing line of a multi-line call or statement)."""

    span: Span
    values: dict = field(default_factory=dict)
    edits: tuple = ()
    noqa_lines: tuple = ()
    severity: str | None = None  # overrides the rule's (op rules: by context)
    op: str | None = None
    source: str = "static"
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Registered:
    code: str
    family: str  # the advisor/checks module that defines it
    subject: str  # what the function takes, per family: "setting", "file", "bnb-call", "target"...
    function: Callable[..., Iterable[Hit]]


REGISTRY: dict[str, Registered] = {}


def rule(code: str, subject: str) -> Callable:
    """Register the decorated function as the rule `code`, judging one `subject` at a time."""
    def register(function: Callable) -> Callable:
        if code in REGISTRY:
            raise ValueError(f"rule {code} is registered twice")
        REGISTRY[code] = Registered(code, function.__module__.rsplit(".", 1)[-1], subject, function)
        return function
    return register


def rules_for(family: str, subject: str) -> list[Registered]:
    return sorted((r for r in REGISTRY.values() if r.family == family and r.subject == subject),
                  key=lambda r: r.code)


def load_all() -> dict[str, Registered]:
    """Every Python rule: rules/<family>.toml is judged by advisor/checks/<family>.py, and
    importing that module registers its rules."""
    import importlib

    from advisor.catalogue import builtin_rules_dir
    for path in sorted(builtin_rules_dir().glob("*.toml")):
        importlib.import_module(f"advisor.checks.{path.stem}")
    return REGISTRY


def _format(template: str, values: dict) -> str:
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):
        return template


def suppressed(code: str, lines: Iterable[int], noqa: dict) -> bool:
    """Whether a `# noqa` on one of `lines` names `code` (or a prefix of it, or everything)."""
    if code == "PRC001":
        return False  # an unchecked file is never silently dropped
    for line in lines:
        if line in noqa:
            codes = noqa[line]
            if codes is None or any(code.startswith(c) for c in codes):
                return True
    return False


def report(rule, path: str, hit: Hit, noqa: dict | None = None) -> Finding | None:
    """The finding of `hit` for the catalogue `rule`, or None when a `# noqa` silences it."""
    if suppressed(rule.code, (hit.span.line, *hit.noqa_lines), noqa or {}):
        return None
    fix = None
    if hit.edits and rule.fix != "none":
        fix = Fix(rule.fix, _format(rule.fix_title, hit.values), tuple(hit.edits))
    return Finding(code=rule.code, rule=rule.name, severity=hit.severity or rule.severity, path=path,
                   span=hit.span, message=_format(rule.message, hit.values), fix=fix, op=hit.op,
                   source=hit.source, extra=dict(hit.extra))


def judge(family: str, subject_kind: str, subject, catalogue, path: str, noqa: dict | None = None,
          noqa_lines: tuple = ()) -> list[Finding]:
    """Run every rule of `family` that judges `subject_kind` on `subject`; `noqa_lines` extend each hit's."""
    findings = []
    for entry in rules_for(family, subject_kind):
        if entry.code not in catalogue.rules:
            continue
        for hit in _hits(entry.function(subject), noqa_lines):
            finding = report(catalogue[entry.code], path, hit, noqa)
            if finding is not None:
                findings.append(finding)
    return findings


def _hits(hits: Iterable[Hit], noqa_lines: tuple) -> Iterator[Hit]:
    for hit in hits:
        yield replace(hit, noqa_lines=(*hit.noqa_lines, *noqa_lines)) if noqa_lines else hit
