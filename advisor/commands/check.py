"""`prec-advisor check`: the static checker's command line.

`run` reads the argparse namespace once into a `CheckRequest`; `execute` then runs the
stages in order (config -> scan -> judge -> fix / report / validate). Nothing below this
layer sees the namespace: the API, the engine and the fixer get plain values.
"""
from __future__ import annotations

import argparse
import functools
import os
import sys
from dataclasses import dataclass, fields
from pathlib import Path

from advisor import api
from advisor.catalogue import CatalogueError
from advisor.commands import output
from advisor.config import FAIL_LEVELS, Config, ConfigError, discover
from advisor.scan import sourcefile

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _codes(text: str) -> tuple:
    return tuple(code.strip().upper() for code in text.split(",") if code.strip())


def _globs(text: str) -> tuple:
    return tuple(pattern for pattern in text.split(",") if pattern)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", default=["."], help="files or folders to check; - reads stdin")
    parser.add_argument("--stdin-filename", help="the name to report for code read from stdin")
    parser.add_argument("--select", type=_codes,
                        help="codes or prefixes to report (comma-separated; ALL for every rule)")
    parser.add_argument("--extend-select", type=_codes, help="codes or prefixes to add to the selection")
    parser.add_argument("--ignore", type=_codes, help="codes or prefixes to drop")
    parser.add_argument("--exclude", type=_globs, help="globs to skip (replaces the defaults)")
    parser.add_argument("--extend-exclude", type=_globs, help="globs to skip as well")
    parser.add_argument("--format", choices=("text", "json", "sarif", "github"), default="text")
    parser.add_argument("--show-source", action="store_true", help="print the offending line under each finding")
    parser.add_argument("--statistics", action="store_true", help="count findings per rule")
    parser.add_argument("--exit-zero", action="store_true", help="exit 0 even when findings remain")
    parser.add_argument("--fail-level", choices=FAIL_LEVELS, help="lowest severity that makes the exit status 1")
    parser.add_argument("-q", "--quiet", action="store_true", help="print findings only, no summary")
    parser.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    parser.add_argument("--config", dest="config_file", type=Path,
                        help="pyproject.toml to read instead of the nearest one")
    parser.add_argument("--no-cache", action="store_true",
                        help="scan every file again: do not read or write the per-file cache "
                             "($PREC_ADVISOR_CACHE_DIR, default ~/.cache/prec-advisor)")
    parser.add_argument("--jobs", "-j", type=int, help="worker processes (default: one per CPU)")
    parser.add_argument("--gpu", help="advise for this GPU (e.g. a100-80gb, t4, h100); see `prec-advisor env`")
    parser.add_argument("--detect", action="store_true", help="advise for the GPU detected on this machine")
    parser.add_argument("--devices", type=int, help="number of devices the run uses (for sharded memory estimates)")
    parser.add_argument("--fix", action="store_true",
                        help="apply safe fixes (and recommended ones when a GPU target is known)")
    parser.add_argument("--diff", action="store_true", help="print the diff --fix would apply; write nothing")
    parser.add_argument("--unsafe-fixes", action="store_true",
                        help="also apply fixes that change what runs (FP32 regions)")
    parser.add_argument("--validate", action="store_true",
                        help="with --fix and a GPU target: apply the recommended precision only where a short "
                             "training run of it (on this machine, against 32-true) passes")
    parser.add_argument("--trace", action="store_true",
                        help="also import the scripts' models (runs their code, in a child process) and trace them")
    parser.add_argument("--model",
                        help="with --trace: the model to trace, module:Name or file.py:Name (a class or factory)")
    parser.add_argument("--trace-timeout", type=float, default=120.0, help="seconds per traced script (default 120)")


@dataclass(frozen=True)
class CheckRequest:
    """One `check` run as the user asked for it (field names are the argparse destinations)."""

    paths: tuple[str, ...]
    stdin_filename: str | None = None
    # selection and configuration (None: what the config file says)
    select: tuple | None = None
    extend_select: tuple | None = None
    ignore: tuple | None = None
    exclude: tuple | None = None
    extend_exclude: tuple | None = None
    fail_level: str | None = None
    config_file: Path | None = None
    jobs: int | None = None
    no_cache: bool = False
    # the hardware target
    gpu: str | None = None
    detect: bool = False
    devices: int | None = None
    # fixing, tracing, validating
    fix: bool = False
    diff: bool = False
    unsafe_fixes: bool = False
    validate: bool = False
    trace: bool = False
    model: str | None = None
    trace_timeout: float = 120.0
    # the report
    format: str = "text"
    color: str = "auto"
    show_source: bool = False
    statistics: bool = False
    quiet: bool = False
    exit_zero: bool = False

    @classmethod
    def from_namespace(cls, args: argparse.Namespace) -> CheckRequest:
        values = {f.name: getattr(args, f.name) for f in fields(cls)}
        return cls(**{**values, "paths": tuple(args.paths)})

    @property
    def reads_stdin(self) -> bool:
        return self.paths == ("-",)

    @property
    def fixes(self) -> bool:
        return self.fix or self.diff


def run(args: argparse.Namespace) -> int:
    return execute(CheckRequest.from_namespace(args))


def execute(request: CheckRequest) -> int:
    """config -> scan -> judge -> fix / report / validate; the exit status."""
    try:
        checker = api.Checker.create(*_config_and_target(request), use_cache=not request.no_cache)
        source = _read_stdin(request) if request.reads_stdin else None
    except (ConfigError, CatalogueError, ValueError, sourcefile.InputError) as exc:  # UnknownGpu is a ValueError
        print(f"prec-advisor: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    stdin = (source.path, source.text) if source is not None else None
    results = checker.scan(list(request.paths), stdin, request.jobs)
    traced = _trace(checker, request, results) if request.trace else []
    judge = functools.partial(checker.judge, extra_ops=[site for t in traced for site in t.ops])
    if source is not None and request.fixes:
        return _fix_stdin(checker, results, request, source, judge)
    report = judge(results)
    fix_exit = EXIT_OK
    if request.fixes:
        from advisor.fix import fixer
        recheck = fixer.rechecker(results, checker.catalogue, checker.index, judge)
        recommended = checker.target is not None and (
            not request.validate or _validated(report, request, checker.target))
        outcome = fixer.apply(report, recheck, "diff" if request.diff else "fix", request.unsafe_fixes, recommended,
                              sys.stdout, sys.stderr, checker.config.fail_level)
        if request.diff:
            return outcome.exit_code
        report, fix_exit = outcome.report, outcome.exit_code
    return _report(request, checker, report, traced, fix_exit)


def _config_and_target(request: CheckRequest) -> tuple[Config, object]:
    """The config file merged with the command line, and the GPU to advise for
    (--gpu / target-gpu by name, or --detect on this machine; None without one)."""
    start = Path(request.paths[0]) if request.paths and not request.reads_stdin else Path.cwd()
    config = discover(start if start.exists() else Path.cwd(), request.config_file)
    config = config.with_overrides(
        select=request.select, extend_select=request.extend_select, exclude=request.exclude,
        ignore=None if request.ignore is None else config.ignore + request.ignore,
        extend_exclude=None if request.extend_exclude is None else config.extend_exclude + request.extend_exclude,
        fail_level=request.fail_level, target_gpu=request.gpu, devices=request.devices,
    )
    if config.target_gpu:
        from advisor.hardware.table import lookup
        return config, lookup(config.target_gpu)
    if request.detect:
        from advisor.hardware.detect import detect
        return config, detect().target()
    return config, None


def _trace(checker: api.Checker, request: CheckRequest, results) -> list:
    """--trace: the scripts' models traced in a child, placed in the user's project."""
    from advisor.userpaths import project_roots
    roots = project_roots(list(request.paths), checker.config.root)
    return checker.trace(_trace_scripts(request), request.model, request.trace_timeout, results, roots)


def _read_stdin(request: CheckRequest) -> sourcefile.SourceFile:
    """The code piped in, decoded as a file is (BOM, coding cookie, NUL bytes), not by the locale.

    An input that cannot be decoded is a one-line error; with --fix its bytes
    still go back to stdout unchanged, so an editor piping its buffer keeps it.
    """
    raw = sys.stdin.buffer.read()
    try:
        return sourcefile.decode(request.stdin_filename or "-", raw)
    except sourcefile.InputError:
        if request.fix and not request.diff:
            sys.stdout.buffer.write(raw)
        raise


def _trace_scripts(request: CheckRequest) -> list[str]:
    """Scripts to import for --trace: the .py files named on the command line (a folder is
    not imported wholesale), or the file a `--model file.py:Name` names."""
    scripts = [p for p in request.paths if p.endswith(".py") and Path(p).is_file()]
    if not scripts and request.model and ".py:" in request.model:
        scripts = [request.model.split(".py:", 1)[0] + ".py"]
    return scripts


def _fix_stdin(checker: api.Checker, results, request: CheckRequest, source: sourcefile.SourceFile, judge) -> int:
    """`-` with --fix/--diff: the fixed text (or its diff) goes to stdout, like ruff."""
    from advisor.fix import fixer
    recheck = fixer.rechecker(results, checker.catalogue, checker.index, judge)
    plan = fixer.plan_fixes(judge(results), recheck, request.unsafe_fixes, checker.target is not None,
                            {source.path: source})
    state = plan.files.get(source.path)
    changed = state is not None and state.changed
    if request.diff:
        sys.stdout.write(fixer.unified_diff(state) if changed else "")
        return EXIT_FINDINGS if changed else EXIT_OK
    sys.stdout.flush()
    sys.stdout.buffer.write(sourcefile.encode(source, state.text) if changed else source.raw)
    failed = plan.report.failed(checker.config.fail_level) and not request.exit_zero
    return EXIT_FINDINGS if failed else EXIT_OK


def _validated(report, request: CheckRequest, target) -> bool:
    """True when every script with a recommended fix trains fine under exactly the recommended precision."""
    from advisor.validate import ValidationError, validate_candidates
    precision = report.recommendation.precision if report.recommendation is not None else None
    scripts = sorted({f.path for f in report.findings if f.fix and f.fix.applicability == "recommended"})
    for script in scripts:
        if precision is None:
            print(f"prec-advisor: {script}: --validate runs precision values only; recommended fixes not applied",
                  file=sys.stderr)
            return False
        try:
            result = validate_candidates(script, [precision], model=request.model, target=target, rounds=1)
        except ValidationError as exc:
            print(f"prec-advisor: {script}: validation could not run ({exc}); recommended fixes not applied",
                  file=sys.stderr)
            return False
        entry = next(c for c in result["candidates"] if c["precision"] == precision)
        exact = entry["passed"] and entry["effective_precision"] == precision  # never a fallback's pass
        verdict = "passed" if exact else f"failed ({entry['reason']})" if entry["status"] == "fail" else entry["reason"]
        print(f"prec-advisor: {script}: {precision} {verdict} on {result['hardware']['name']}", file=sys.stderr)
        if not exact:
            print(f"prec-advisor: {script}: recommended fixes not applied", file=sys.stderr)
            return False
    return True


def _report(request: CheckRequest, checker: api.Checker, report, traced: list, fix_exit: int) -> int:
    """Print the report in the asked format; the exit status."""
    trace_errors = [error for t in traced for error in t.errors]
    report.errors += len(trace_errors)  # a model that could not be traced is an input we could not check
    out, models = sys.stdout, [m for t in traced for m in t.models] if request.trace else None
    if request.format == "json":
        output.render_json(report, out, models)
    elif request.format == "sarif":
        output.render_sarif(report, checker.catalogue, out)
    elif request.format == "github":
        output.render_github(report, out)
    else:
        color = request.color == "always" or (request.color == "auto" and out.isatty()
                                              and not os.environ.get("NO_COLOR"))
        output.render_text(report, out, color=color, show_source=request.show_source,
                           statistics=request.statistics, quiet=request.quiet, models=models)
    for finding in report.findings:
        if finding.code == "PRC001" and request.format != "text":
            print(f"{finding.path}:{finding.line}: error: {finding.message}", file=sys.stderr)
    for error in trace_errors:
        print(f"prec-advisor: error: {error}", file=sys.stderr)
    if report.errors or fix_exit == EXIT_ERROR or trace_errors:
        return EXIT_ERROR
    if report.failed(checker.config.fail_level) and not request.exit_zero:
        return EXIT_FINDINGS
    return EXIT_OK
