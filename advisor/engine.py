"""One check run: read files, scan them in parallel, judge facts, filter findings.

Per-file work (decode, parse, scan, PRC1xx) runs in worker processes; the
project-wide judgement (where ops run, call chains across files) runs once
in the parent over the facts the workers return.
"""
from __future__ import annotations

import fnmatch
import gc
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from advisor.catalogue import Catalogue
from advisor.checks.project import Project, op_findings, wrapper_names
from advisor.checks.settings import setting_findings
from advisor.checks.tool import input_error_finding, noqa_findings
from advisor.config import Config
from advisor.facts import FileFacts
from advisor.findings import Finding
from advisor.fix import safety
from advisor.scan import files, sourcefile, yaml_settings
from advisor.scan.cache import FileCache
from advisor.scan.opindex import OpIndex, amp_triggered
from advisor.scan.scanner import mentions, scan

SEVERITY_RANK = {"info": 0, "warning": 1, "error": 2}
PARALLEL_THRESHOLD = 16  # below this many files a worker pool costs more than it saves


@dataclass
class FileResult:
    path: str
    facts: FileFacts | None = None
    findings: list = field(default_factory=list)
    error: Finding | None = None
    text: str | None = None  # kept when a setting of the file is settled project-wide: its fixes need it


@dataclass
class Report:
    findings: list = field(default_factory=list)
    settings: list = field(default_factory=list)
    facts: list = field(default_factory=list)
    files_checked: int = 0
    errors: int = 0  # inputs that could not be checked
    recommendation: object = None

    def failed(self, fail_level: str) -> bool:
        threshold = SEVERITY_RANK[fail_level]
        return any(SEVERITY_RANK[f.severity] >= threshold for f in self.findings if f.code != "PRC001")


def _amp_companion(path: str, text: str, made: list):
    """The PRC4xx visitor, built on the scanner's walk state (kept in `made` for its judge)."""
    from advisor.checks import amp  # with libcst: only for a file that has AMP code

    def make(walk):
        made.append(amp.visitor_for(path, text, walk))
        return made[-1]
    return make


@contextmanager
def _collector_paused():
    """No cyclic garbage collection while one file is checked. libcst's tree of a file is
    hundreds of thousands of objects, freed by reference counting once the file is done; the
    collector would traverse them again and again while they are built (a tenth of a check's
    CPU). What one file leaves in cycles is collected after it."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@_collector_paused()
def check_source(path: str, text: str, catalogue: Catalogue, index: OpIndex,
                 names: frozenset = frozenset()) -> FileResult:
    """Scan one decoded file and apply the per-file rules (`names`: project wrappers that make it worth parsing)."""
    result = FileResult(path)
    try:
        amp_visitors = []
        if yaml_settings.is_yaml(path):
            facts, module, positions = yaml_settings.scan_yaml(path, text), None, None
        else:
            companions = [_amp_companion(path, text, amp_visitors)] if amp_triggered(text) else []
            facts, module, positions = scan(path, text, index, companions, names)
    except SyntaxError as exc:
        error = sourcefile.InputError(path, exc.lineno or 1, f"cannot parse: {exc.msg}")
        result.error = input_error_finding(error, catalogue)
        return result
    except (RecursionError, MemoryError):
        result.error = input_error_finding(sourcefile.InputError(path, 1, "cannot parse: nesting too deep"), catalogue)
        return result
    except Exception as exc:  # noqa: BLE001 - one bad file must not cost the user the whole run
        reason = f"internal error while checking ({type(exc).__name__}: {exc}); please report it"
        result.error = input_error_finding(sourcefile.InputError(path, 1, reason.splitlines()[0]), catalogue)
        return result
    result.facts = facts
    result.text = text if _needs_text(facts) else None
    if module is not None and facts.ops:
        from advisor.fix.fp32 import add_fp32_fixes  # libcst, already loaded: the file was parsed

        add_fp32_fixes(facts, text, module, positions)
    for setting in (s for s in facts.settings if s.kind is not None):
        result.findings.extend(setting_findings(setting, text, catalogue, facts.imports_torch_as, facts.noqa))
    result.findings.extend(noqa_findings(facts, catalogue))
    if amp_visitors:
        from advisor.checks.amp import check_amp

        amp_findings, facts.amp = check_amp(path, text, catalogue, module, amp_visitors[0], facts.noqa, positions)
        result.findings.extend(amp_findings)
    return result


def _needs_text(facts: FileFacts | None) -> bool:
    """Settings settled project-wide (Trainer subclasses of other modules) get their fixes from the text."""
    return facts is not None and any(s.kind is None for s in facts.settings)


def check_path(path: Path, display: str, catalogue: Catalogue, index: OpIndex,
               cache: FileCache | None = None, names: frozenset = frozenset()) -> FileResult | None:
    """The file's result; with `names` (a later round's wrappers, for a file the first round did not
    parse), None when the file's code calls none of them: the first round's result stands."""
    try:
        source = sourcefile.read(path, display)
    except sourcefile.InputError as exc:
        return FileResult(display, error=input_error_finding(exc, catalogue))
    if names and not mentions(source.text, names):
        return None
    key = cache.key(display, source.raw, sorted(names)) if cache is not None else None
    stored = cache.get(key) if key is not None else None
    if stored is not None:
        result = FileResult(display, **stored)
        result.text = source.text if _needs_text(result.facts) else None
        return result
    result = check_source(display, source.text, catalogue, index, names)
    if names and result.facts is not None and not result.facts.parsed:
        return None  # its code calls none of them (its imports, hints or prose may name them)
    if key is not None:
        cache.put(key, {"facts": result.facts, "findings": result.findings, "error": result.error})
    return result


_WORKER_STATE: tuple = ()


def _worker(item: str, names: frozenset = frozenset()) -> FileResult | None:
    """One file's result. With `keep`, what the file leaves (its facts, kept to the end of the run) is
    frozen: the collections that follow never traverse it again (a twentieth of a check's CPU)."""
    catalogue, index, cache, keep = _WORKER_STATE
    with _collector_paused():
        result = check_path(Path(item), item, catalogue, index, cache, names)
        if keep:
            gc.freeze()
    return result


@contextmanager
def _file_mapper(count: int, jobs: int, catalogue: Catalogue, index: OpIndex, cache: FileCache | None):
    """A `map(paths, names)` over `count` files: in this process, or in one pool of forked workers
    that every wrapper round reuses (a pool per round would start, and import libcst in, new workers).

    Objects are frozen only when the caller froze none, and only what this froze is unfrozen after."""
    global _WORKER_STATE
    freeze = gc.get_freeze_count() == 0
    _WORKER_STATE = (catalogue, index, cache, freeze)  # forked workers inherit it: no per-file setup
    if jobs <= 1 or count < PARALLEL_THRESHOLD or sys.platform != "linux":
        try:
            yield lambda paths, names=frozenset(): [_worker(p, names) for p in paths]
        finally:
            if freeze:
                gc.unfreeze()
        return
    import multiprocessing  # only here: a run of a few files pays nothing for the pool's imports
    from concurrent.futures import ProcessPoolExecutor

    # Imported once here (libcst with them), the workers inherit them instead of each importing them.
    from advisor.checks import amp  # noqa: F401
    from advisor.fix import fp32  # noqa: F401
    from advisor.scan import recording  # noqa: F401

    # The workers' collections skip what they inherit frozen: no traversal, and its memory pages stay shared.
    if freeze:
        gc.freeze()
    try:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("fork")) as pool:
            yield lambda paths, names=frozenset(): list(pool.map(partial(_worker, names=names), paths,
                                                                 chunksize=max(1, len(paths) // (jobs * 8))))
    finally:
        if freeze:
            gc.unfreeze()


def _selected(code: str, config: Config, path: str) -> bool:
    if code == "PRC001":
        return True  # an unchecked file is never silently dropped
    selectors = config.select + config.extend_select
    chosen = max((s for s in selectors if s == "ALL" or code.startswith(s)), key=len, default=None)
    dropped = max((s for s in config.ignore if s == "ALL" or code.startswith(s)), key=len, default=None)
    if chosen is None or (dropped is not None and len(dropped) >= len(chosen)):
        return False
    posix = Path(path).as_posix()
    for glob, codes in config.per_file_ignores:
        if fnmatch.fnmatchcase(posix, glob) or fnmatch.fnmatchcase(Path(path).name, glob):
            if any(code.startswith(c) or c == "ALL" for c in codes):
                return False
    return True


def finalize(results: list[FileResult], catalogue: Catalogue, config: Config, index: OpIndex,
             extra_ops=()) -> Report:
    """Project-wide rules, then selection and noqa; findings sorted like ruff.

    `extra_ops` are op sites found by tracing the model (`--trace`).
    """
    report = Report(files_checked=len(results))
    facts = [r.facts for r in results if r.facts is not None]
    if extra_ops:
        from advisor.trace.api import (
            add_to_facts,  # no torch: the tracing itself ran in a child process
        )
        facts = add_to_facts(facts, list(extra_ops))
    project = Project(facts, catalogue)
    texts = {r.path: r.text for r in results if r.text is not None}  # for the settings settled here
    settings = project.settings()
    report.settings = [setting for _, setting, _ in settings]
    report.facts = facts
    report.errors = sum(1 for r in results if r.error)
    findings = [f for r in results for f in r.findings] + [r.error for r in results if r.error]
    for file, setting, settled_here in settings:  # Trainer subclasses other modules define
        if settled_here and file.path in texts:
            findings += setting_findings(setting, texts[file.path], catalogue, file.imports_torch_as, file.noqa)
    add_findings(report, findings + op_findings(facts, catalogue, report.settings, project), config)
    return report


def add_findings(report: Report, findings: list[Finding], config: Config) -> None:
    """Selection, proven-safe and YAML-safe fixes for `findings` (`registry.report` applied noqa), merged
    into the report in order (the hardware rules join a finished report this way, without judging the ops again)."""
    findings = safety.gate(findings, report.facts, config.target_versions)
    kept = [f for f in yaml_settings.yaml_safe_fixes(findings) if _selected(f.code, config, f.path)]
    report.findings = sorted(report.findings + kept, key=Finding.sort_key)


def run(paths: list[str], config: Config, catalogue: Catalogue, index: OpIndex, jobs: int | None = None,
        stdin: tuple | None = None, cache: FileCache | None = None) -> list[FileResult]:
    """Scan the given paths (or one stdin text as (display name, text)); the caller finalizes.

    With a `cache`, files whose content, path, tool build and rules are unchanged are not scanned again."""
    if stdin is not None:
        name, text = stdin
        return [check_source(name, text, catalogue, index)]
    root = config.root or Path.cwd()
    targets = [str(p) for p in files.collect(paths, config.exclude + config.extend_exclude, root)]
    with _file_mapper(len(targets), jobs or os.cpu_count() or 1, catalogue, index, cache) as scan_files:
        results = scan_files(targets)
        names: frozenset = frozenset()
        while True:  # files that only call the project's own wrappers: parse them too, until no new name
            skipped = [r.path for r in results if r.facts is not None and not r.facts.parsed]
            if not skipped:
                return results
            found = wrapper_names([r.facts for r in results if r.facts is not None], catalogue) | names
            if found == names:
                return results
            names = found  # only the skipped files that name a wrapper are read past their text again
            again = {r.path: r for r in scan_files(skipped, names) if r is not None}
            if not again:
                return results  # no file changed: no new wrapper either
            results = [again.get(r.path, r) for r in results]
