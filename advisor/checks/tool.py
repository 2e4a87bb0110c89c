"""PRC0xx: what the tool itself reports, an input it could not check and a `# noqa` naming no rule."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from advisor.catalogue import Catalogue
from advisor.checks import registry
from advisor.checks.registry import Hit, rule
from advisor.facts import FileFacts, Span
from advisor.findings import Finding
from advisor.scan.sourcefile import InputError


@dataclass(frozen=True)
class NoqaContext:
    facts: FileFacts
    catalogue: Catalogue


@rule("PRC001", "input-error")
def unreadable_file(error: InputError) -> Iterator[Hit]:
    yield Hit(Span(error.line, 1, error.line, 1), {"reason": error.message})


@rule("PRC002", "noqa")
def unknown_noqa_code(ctx: NoqaContext) -> Iterator[Hit]:
    for line, codes in sorted(ctx.facts.noqa.items()):
        unknown = sorted(c for c in codes or () if c.startswith("PRC")
                         and not any(known.startswith(c) for known in ctx.catalogue.rules))
        if unknown:
            yield Hit(Span(line, 1, line, 1), {"codes": ", ".join(unknown)})


def input_error_finding(error: InputError, catalogue: Catalogue) -> Finding:
    [finding] = registry.judge("tool", "input-error", error, catalogue, error.path)
    return finding


def noqa_findings(facts: FileFacts, catalogue: Catalogue) -> list[Finding]:
    return registry.judge("tool", "noqa", NoqaContext(facts, catalogue), catalogue, facts.path, facts.noqa)
