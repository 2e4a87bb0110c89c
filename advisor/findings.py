"""Findings and their fixes: what the rules conclude from the facts."""
from __future__ import annotations

from dataclasses import dataclass, field

from advisor.facts import Span

SEVERITIES = ("error", "warning", "info")
APPLICABILITIES = ("safe", "recommended", "unsafe")


@dataclass(frozen=True)
class Edit:
    """Replace the text in `span` with `content` (an insertion when the span is empty)."""

    span: Span
    content: str

    def to_json(self) -> dict:
        return {
            "location": {"line": self.span.line, "column": self.span.column},
            "end_location": {"line": self.span.end_line, "column": self.span.end_column},
            "content": self.content,
        }


@dataclass(frozen=True)
class Fix:
    applicability: str  # safe | recommended | unsafe
    title: str
    edits: tuple[Edit, ...]

    def to_json(self) -> dict:
        return {
            "applicability": self.applicability,
            "title": self.title,
            "edits": [edit.to_json() for edit in self.edits],
        }


@dataclass
class Finding:
    code: str
    rule: str
    severity: str
    path: str
    span: Span
    message: str
    fix: Fix | None = None
    op: str | None = None
    source: str = "static"
    extra: dict = field(default_factory=dict)

    @property
    def line(self) -> int:
        return self.span.line

    @property
    def column(self) -> int:
        return self.span.column

    def sort_key(self):
        return (self.path, self.span.line, self.span.column, self.code)

    def to_json(self) -> dict:
        data = {
            "code": self.code,
            "rule": self.rule,
            "severity": self.severity,
            "path": self.path,
            "line": self.span.line,
            "column": self.span.column,
            "end_line": self.span.end_line,
            "end_column": self.span.end_column,
            "message": self.message,
            "fix": self.fix.to_json() if self.fix else None,
            "source": self.source,
        }
        if self.op:
            data["op"] = self.op
        data.update(self.extra)
        return data

