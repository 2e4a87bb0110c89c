"""Which fixes a run may apply without reading them: the facts must prove they keep behaviour.

A rule proposes its fix; this gate, run once over every finding, keeps a safe or
recommended fix only when the setting it edits is proven to be Lightning's own (not a
subclass with its own `__init__`, not a YAML section that only looks like a trainer), and
drops any fix whose written text the project's oldest supported torch or Lightning lacks
(advisor.versions), saying in the message what the fix would need.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from advisor import versions
from advisor.facts import FileFacts, Setting
from advisor.findings import Finding
from advisor.scan.yaml_settings import is_yaml


def _setting_at(finding: Finding, settings: Iterable[Setting]) -> Setting | None:
    for setting in settings:
        span = setting.call_span
        if span is not None and (span.line, span.column) <= (finding.span.line, finding.span.column) and (
                finding.span.end_line, finding.span.end_column) <= (span.end_line, span.end_column):
            return setting
    return None


def _without_fix(finding: Finding, reason: str) -> Finding:
    return replace(finding, fix=None, message=f"{finding.message} (no fix: {reason})")


def _unproven(finding: Finding, setting: Setting) -> Finding:
    if is_yaml(finding.path):
        return _without_fix(finding, setting.unproven)
    fix = replace(finding.fix, applicability="unsafe", title=f"{finding.fix.title} (unsafe: {setting.unproven})")
    return replace(finding, fix=fix)


def _gated(finding: Finding, settings: list, target_versions: dict) -> Finding:
    setting = _setting_at(finding, settings)
    if setting is not None and setting.unproven and finding.fix.applicability in ("safe", "recommended"):
        finding = _unproven(finding, setting)
    if finding.fix is None:
        return finding
    owner = setting or next(iter(settings), None)  # the file's Lightning import decides its distribution
    root = owner.callee.split(".")[0] if owner is not None and owner.callee else None
    floors = versions.floors_for(finding.path, target_versions, root)
    reason = versions.unmet(finding.code, (edit.content for edit in finding.fix.edits), floors)
    return _without_fix(finding, reason) if reason else finding


def gate(findings: list, facts: Iterable[FileFacts], target_versions=()) -> list:
    """`findings` with each fix kept, downgraded to unsafe, or dropped (the message says why)."""
    settings: dict = {}
    for file in facts:
        settings.setdefault(file.path, []).extend(file.settings)
    return [_gated(f, settings.get(f.path, []), dict(target_versions)) if f.fix is not None else f for f in findings]
