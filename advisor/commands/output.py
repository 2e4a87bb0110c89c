"""Output formats for `check`: text (ruff-like), JSON (the contract), SARIF 2.1.0, GitHub annotations."""
from __future__ import annotations

import json
from collections import Counter
from typing import TextIO

from advisor import __version__
from advisor.catalogue import Catalogue
from advisor.engine import Report

COLORS = {"error": "\033[31m", "warning": "\033[33m", "info": "\033[36m", "bold": "\033[1m", "dim": "\033[2m"}
RESET = "\033[0m"
SARIF_LEVELS = {"error": "error", "warning": "warning", "info": "note"}
DOCS_URL = "https://github.com/prec-advisor/prec-advisor/blob/main/docs/rules.md#{code}"


def _paint(text: str, style: str, color: bool) -> str:
    return f"{COLORS[style]}{text}{RESET}" if color else text


def _fix_marker(finding) -> str:
    if finding.fix is None:
        return ""
    return {"safe": "[*] ", "recommended": "[*recommended] ", "unsafe": "[*unsafe] "}[finding.fix.applicability]


def summary(report: Report) -> dict:
    severities = Counter(f.severity for f in report.findings)
    fixable = Counter(f.fix.applicability for f in report.findings if f.fix)
    return {
        "files": report.files_checked,
        "findings": len(report.findings),
        "errors": report.errors,
        "by_severity": {s: severities.get(s, 0) for s in ("error", "warning", "info")},
        "fixable": {k: fixable.get(k, 0) for k in ("safe", "recommended", "unsafe")},
    }


def _source_lines(path: str, cache: dict) -> list[str]:
    if path not in cache:
        from pathlib import Path

        from advisor.scan import sourcefile
        try:
            cache[path] = sourcefile.read(Path(path)).text.splitlines()
        except sourcefile.InputError:
            cache[path] = []
    return cache[path]


def _model_lines(models: list) -> list:
    """One line per traced model: what ran, how, how big, how long; or why it could not."""
    lines = []
    for m in models:
        where = f"{m['path']}:{m['line']}" if m.get("line") else m["path"]
        if m["trace"] == "failed":
            lines.append(f"Traced {m['name']} ({where}): failed: {m.get('error') or m.get('reason')}")
            continue
        under = f" under {m['precision']}" if m.get("precision") else ""
        lines.append(f"Traced {m['name']} ({where}): {m.get('mode') or m['trace']}{under}, "
                     f"{m['params']:,} parameters ({m['trainable_params']:,} trainable), {m.get('time_s') or 0:.2f} s")
    return lines


def render_text(report: Report, out: TextIO, *, color: bool, show_source: bool, statistics: bool, quiet: bool,
                models: list | None = None) -> None:
    lines_cache: dict = {}
    for finding in report.findings:
        location = _paint(f"{finding.path}:{finding.line}:{finding.column}:", "bold", color)
        code = _paint(finding.code, finding.severity, color)
        out.write(f"{location} {code} {_fix_marker(finding)}{finding.message}\n")
        if show_source:
            lines = _source_lines(finding.path, lines_cache)
            if 0 < finding.line <= len(lines):
                text = lines[finding.line - 1]
                one_line = finding.span.end_line == finding.line
                width = max(1, finding.span.end_column - finding.column if one_line else len(text) - finding.column + 1)
                carets = _paint("^" * width, finding.severity, color)
                out.write(f"  {finding.line:>4} | {text}\n       | {' ' * (finding.column - 1)}{carets}\n")
                if finding.fix:
                    out.write(f"       = fix ({finding.fix.applicability}): {finding.fix.title}\n")
    if statistics:
        counts = Counter((f.code, f.rule) for f in report.findings)
        for (code, rule), count in counts.most_common():
            out.write(f"{count:>5}  {code}  {rule}\n")
    if quiet:
        return
    for line in _model_lines(models or []):
        out.write(line + "\n")
    _summary_lines(report, out)


def _summary_lines(report: Report, out: TextIO) -> None:
    """Found N findings...; or why nothing was found; then the recommendation."""
    info = summary(report)
    if report.findings:
        out.write(f"Found {info['findings']} finding{'s' if info['findings'] != 1 else ''} in {info['files']} file"
                  f"{'s' if info['files'] != 1 else ''}")
        fixable = info["fixable"]
        target_known = report.recommendation is not None  # recommended fixes apply with a target
        with_fix = fixable["safe"] + (fixable["recommended"] if target_known else 0)
        if with_fix:
            out.write(f"; {with_fix} fixable with --fix")
        if fixable["recommended"] and not target_known:
            out.write(f", {fixable['recommended']} more with a hardware target (--gpu)")
        if fixable["unsafe"]:
            out.write(f", {fixable['unsafe']} with --unsafe-fixes")
        out.write(".\n")
    elif report.errors:
        out.write(f"No findings, but {report.errors} input{'s' if report.errors != 1 else ''} could not be "
                  f"checked (see the errors).\n")
    else:
        out.write(f"All checks passed ({info['files']} file{'s' if info['files'] != 1 else ''}).\n")
    if report.recommendation is not None:
        rec = report.recommendation
        out.write(rec.headline() + "\n")
        for reason in rec.reasons:
            out.write(f"  - {reason}\n")


def to_json(report: Report, models=None) -> dict:
    data = {
        "version": 1,
        "findings": [f.to_json() for f in report.findings],
        "settings": [s.to_json() for s in report.settings],
        "recommendation": report.recommendation.to_json() if report.recommendation is not None else None,
        "summary": summary(report),
    }
    if models is not None:
        data["models"] = models
    return data


def render_json(report: Report, out: TextIO, models=None) -> None:
    json.dump(to_json(report, models), out, indent=2)
    out.write("\n")


def sarif_rules(catalogue: Catalogue) -> list[dict]:
    return [{
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.rationale},
        "help": {"text": rule.rationale, "markdown": f"**{rule.code} {rule.name}**\n\n{rule.rationale}\n\n"
                 + "\n".join(f"- <{link}>" for link in rule.references)},
        "helpUri": DOCS_URL.format(code=rule.code.lower()),
        "defaultConfiguration": {"level": SARIF_LEVELS[rule.severity]},
        "properties": {"fix": rule.fix, "tags": [rule.family]},
    } for rule in catalogue]


def render_sarif(report: Report, catalogue: Catalogue, out: TextIO) -> None:
    rules = sarif_rules(catalogue)
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    results = [{
        "ruleId": f.code,
        "ruleIndex": index.get(f.code, 0),
        "level": SARIF_LEVELS[f.severity],
        "message": {"text": f.message},
        "locations": [{"physicalLocation": {
            "artifactLocation": {"uri": f.path.replace("\\", "/")},
            "region": {"startLine": f.line, "startColumn": f.column, "endLine": f.span.end_line,
                       "endColumn": f.span.end_column},
        }}],
    } for f in report.findings]
    sarif = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "prec-advisor", "version": __version__,
                                      "informationUri": "https://github.com/prec-advisor/prec-advisor",
                                      "rules": rules}},
                  "results": results}],
    }
    json.dump(sarif, out, indent=2)
    out.write("\n")


def _escape(text: str, property_value: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if property_value else text


def render_github(report: Report, out: TextIO) -> None:
    levels = {"error": "error", "warning": "warning", "info": "notice"}
    for f in report.findings:
        out.write(f"::{levels[f.severity]} title={_escape(f'prec-advisor ({f.code})', True)},"
                  f"file={_escape(f.path, True)},line={f.line},col={f.column},endLine={f.span.end_line},"
                  f"endColumn={f.span.end_column}::{_escape(f'{f.code} {f.message}')}\n")
