"""`--fix`, `--diff`, `--unsafe-fixes`: apply the findings' edits, never anything else.

Fixes are text edits on the original bytes (advisor.fix.edits), so every byte
outside an edit survives: comments, quotes, line endings, BOM, cookie.
Per pass, the fixes of a file are applied together unless they overlap; an
overlapping fix waits for the next pass, which starts from a fresh check of
the fixed text, until nothing applicable is left (ruff's loop, bounded).
A result that does not parse is never kept; files are replaced atomically.
"""
from __future__ import annotations

import difflib
import os
import re
import stat
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import libcst as cst

from advisor.engine import FileResult, Report, check_source
from advisor.findings import Finding
from advisor.fix.edits import LineIndex
from advisor.scan import sourcefile
from advisor.scan.yaml_settings import is_yaml

MAX_PASSES = 8
Recheck = Callable[[Mapping[str, str]], Report]  # current texts of changed files -> a fresh report


@dataclass
class FileFix:
    """One file's fixing: its source as read, the fixed text, what was and was not applied."""

    source: sourcefile.SourceFile
    text: str
    fixed: list = field(default_factory=list)  # findings whose fix was applied (any pass)
    skipped: list = field(default_factory=list)  # (finding, reason) from the last pass

    @property
    def path(self) -> str:
        return self.source.path

    @property
    def changed(self) -> bool:
        return self.text != self.source.text


@dataclass
class Plan:
    files: dict  # path -> FileFix
    report: Report  # the check of the fixed texts: what remains
    errors: list = field(default_factory=list)  # one-line messages

    @property
    def fixed(self) -> int:
        return sum(len(f.fixed) for f in self.files.values())


@dataclass
class FixOutcome:
    exit_code: int  # 0 clean, 1 findings remain (or a diff to apply), 2 an input or a write failed
    fixed: int
    remaining: list  # the findings still there after fixing (all of them in --diff mode)
    errors: list
    report: Report  # print this report's findings: in --fix mode they are the remaining ones


def enabled(finding: Finding, unsafe: bool, target_known: bool) -> bool:
    """Safe fixes always; recommended ones with a hardware target; unsafe ones on request."""
    fix = finding.fix
    if fix is None or not fix.edits:
        return False
    return fix.applicability == "safe" or (fix.applicability == "recommended" and target_known) or (
        fix.applicability == "unsafe" and unsafe)


# ---- one pass over one text -------------------------------------------------------

def _ranges(text: str, finding: Finding) -> list[tuple[int, int, str]]:
    """Offsets and contents of a finding's edits; lines an edit adds take the file's line ending."""
    index = LineIndex(text)
    crlf = "\r\n" in text
    return sorted((index.offset(e.span.line, e.span.column), index.offset(e.span.end_line, e.span.end_column),
                   _CRLF.sub("\r\n", e.content) if crlf else e.content) for e in finding.fix.edits)


_CRLF = re.compile(r"(?<!\r)\n")


def _overlap(a: tuple, b: tuple) -> bool:
    """Ranges overlap when they share a character; two insertions at one point are ambiguous."""
    (s1, e1, _), (s2, e2, _) = a, b
    return (s1 < e2 and s2 < e1) or (s1 == e1 == s2 == e2) or (s1 == e1 and s2 < s1 < e2) or (
        s2 == e2 and s1 < s2 < e1)


def _apply(text: str, ranges: Iterable[tuple]) -> str:
    for start, end, content in sorted(ranges, key=lambda r: (r[0], r[1]), reverse=True):
        text = text[:start] + content + text[end:]
    return text


def _parses(text: str, path: str = "") -> bool:
    if is_yaml(path):
        return True  # YAML fixes only replace one scalar (yaml_settings.yaml_safe_fixes)
    try:
        cst.parse_module(text)
    except (cst.ParserSyntaxError, RecursionError):
        return False
    return True


def _noqa_line(finding: Finding, noqa: dict) -> int | None:
    """A line the fix would rewrite whose `# noqa` covers the finding's code."""
    for edit in finding.fix.edits:
        for line in range(edit.span.line, edit.span.end_line + 1):
            codes = noqa.get(line, ())
            if codes is None or any(finding.code.startswith(c) for c in codes):
                return line
    return None


def fix_text(text: str, findings: list[Finding], noqa: dict) -> tuple[str, list, list]:
    """Apply the given findings' fixes to `text` once: (new text, applied, [(finding, reason)])."""
    applied, skipped, taken = [], [], []
    candidates = sorted(findings, key=lambda f: (_ranges(text, f)[0][:2], f.code))
    for finding in candidates:
        ranges = _ranges(text, finding)
        line = _noqa_line(finding, noqa)
        if line is not None:
            skipped.append((finding, f"not applied (# noqa on line {line})"))
        elif all(text[s:e] == content for s, e, content in ranges):
            skipped.append((finding, "not applied (it would change nothing)"))
        elif any(_overlap(r, t) for r in ranges for t in taken):
            skipped.append((finding, "not applied (overlaps another fix; a later pass retries it)"))
        else:
            applied.append((finding, ranges))
            taken.extend(ranges)
    new = _apply(text, (r for _, ranges in applied for r in ranges))
    path = findings[0].path if findings else ""
    if _parses(new, path):
        return new, [f for f, _ in applied], skipped
    new, kept = text, []  # find the fix that breaks the syntax: apply one at a time, from the end
    for finding, ranges in sorted(applied, key=lambda item: item[1][0][:2], reverse=True):
        attempt = _apply(new, ranges)
        if _parses(attempt, path):
            new = attempt
            kept.append(finding)
        else:
            skipped.append((finding, "not applied (the result would not parse)"))
    return new, kept[::-1], skipped


# ---- the passes over a whole report ------------------------------------------------

def plan_fixes(report: Report, recheck: Recheck, unsafe: bool, target_known: bool,
               sources: Mapping[str, sourcefile.SourceFile] | None = None) -> Plan:
    """Fix every file of the report in memory, re-checking after each pass; nothing is written."""
    plan = Plan(files={}, report=report)
    unreadable = set()
    for _ in range(MAX_PASSES):
        noqa = {facts.path: facts.noqa for facts in plan.report.facts}
        by_path: dict[str, list] = {}
        for finding in plan.report.findings:
            if enabled(finding, unsafe, target_known) and finding.path not in unreadable:
                by_path.setdefault(finding.path, []).append(finding)
        progressed = False
        for path, findings in by_path.items():
            state = plan.files.get(path) or _load(path, sources, plan, unreadable)
            if state is None:
                continue
            new, applied, state.skipped = fix_text(state.text, findings, noqa.get(path, {}))
            if applied and new != state.text:
                state.text, progressed = new, True
                state.fixed.extend(applied)
        if not progressed:
            return plan
        plan.report = recheck({path: state.text for path, state in plan.files.items() if state.changed})
    for finding in plan.report.findings:  # still fixable after the last pass: say so
        state = plan.files.get(finding.path)
        if state is not None and enabled(finding, unsafe, target_known):
            state.skipped.append((finding, f"not applied (still fixable after {MAX_PASSES} passes)"))
    return plan


def _load(path: str, sources, plan: Plan, unreadable: set) -> FileFix | None:
    try:
        source = sources[path] if sources and path in sources else sourcefile.read(Path(path))
    except sourcefile.InputError as exc:
        plan.errors.append(str(exc))
        unreadable.add(path)
        return None
    plan.files[path] = FileFix(source=source, text=source.text)
    return plan.files[path]


def rechecker(results: list[FileResult], catalogue, index, judge: Callable[[list[FileResult]], Report]) -> Recheck:
    """The check that produced `results`, re-run on changed texts; unchanged files are reused.

    `judge` turns file results into the report, as the command did the first
    time (`engine.finalize`, plus the hardware rules when there is a target).
    """
    def recheck(texts: Mapping[str, str]) -> Report:
        return judge([check_source(r.path, texts[r.path], catalogue, index) if r.path in texts else r for r in results])
    return recheck


# ---- output: diff, atomic write, the command's entry point ------------------------------

def unified_diff(state: FileFix) -> str:
    """`--diff` output for one file; lines keep their own endings."""
    lines = difflib.unified_diff(state.source.text.splitlines(keepends=True), state.text.splitlines(keepends=True),
                                 fromfile=state.path, tofile=state.path)
    return "".join(line if line.endswith(("\n", "\r")) else line + "\n\\ No newline at end of file\n"
                   for line in lines)


def write_atomic(path: str, data: bytes) -> None:
    """Replace the file (the target of a symlink) in one rename, keeping its mode; OSError on failure."""
    real = os.path.realpath(path)
    mode = stat.S_IMODE(os.stat(real).st_mode)
    if not os.access(real, os.W_OK):
        raise PermissionError(13, "file is not writable")
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(real), prefix=f".{os.path.basename(real)}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, real)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def _write(state: FileFix) -> str | None:
    try:
        write_atomic(state.path, sourcefile.encode(state.source, state.text))
    except UnicodeEncodeError as exc:
        return f"{state.path}: cannot write: fixed text not encodable as {state.source.encoding} ({exc.reason})"
    except OSError as exc:
        return f"{state.path}: cannot write: {exc.strerror or exc}"
    return None


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}{'es' if word.endswith('x') else 's'}"


def apply(report: Report, recheck: Recheck, mode: str, unsafe: bool, target_known: bool, out: TextIO,
          err: TextIO, fail_level: str = "info",
          sources: Mapping[str, sourcefile.SourceFile] | None = None) -> FixOutcome:
    """Run `--diff` (print diffs, write nothing) or `--fix` (write files, report what remains)."""
    plan = plan_fixes(report, recheck, unsafe, target_known, sources)
    changed = [state for state in plan.files.values() if state.changed]
    errors = list(plan.errors)
    if mode == "diff":
        for state in changed:
            out.write(unified_diff(state))
        err.write(f"Would fix {_plural(plan.fixed, 'finding')} in {_plural(len(changed), 'file')}.\n")
        final, remaining, written = report, list(report.findings), ()
    else:
        written = []
        for state in changed:
            problem = _write(state)
            (errors.append(problem) if problem else written.append(state))
        final = plan.report if len(written) == len(changed) else recheck({s.path: s.text for s in written})
        remaining = list(final.findings)
        fixed = sum(len(state.fixed) for state in written)
        err.write(f"Fixed {_plural(fixed, 'finding')} in {_plural(len(written), 'file')}; "
                  f"{len(remaining)} remaining.\n")
    for state in plan.files.values():
        for finding, reason in state.skipped:
            err.write(f"{finding.path}:{finding.line}:{finding.column}: {finding.code} fix {reason}\n")
    for line in errors:
        err.write(f"prec-advisor: error: {line}\n")
    fixed = plan.fixed if mode == "diff" else sum(len(s.fixed) for s in written)
    if errors or final.errors:
        code = 2
    elif mode == "diff":
        code = 1 if changed else 0
    else:
        code = 1 if final.failed(fail_level) else 0
    return FixOutcome(exit_code=code, fixed=fixed, remaining=remaining, errors=errors, report=final)
