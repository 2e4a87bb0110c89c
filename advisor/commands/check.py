"""`prec-advisor check`: the static checker's command line."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from advisor import api
from advisor.catalogue import CatalogueError
from advisor.commands import output
from advisor.config import FAIL_LEVELS, ConfigError, discover
from advisor.scan import sourcefile
from advisor.userpaths import project_roots

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
    parser.add_argument("--config", type=Path, help="pyproject.toml to read instead of the nearest one")
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


def _config(args):
    start = Path(args.paths[0]) if args.paths and args.paths[0] != "-" else Path.cwd()
    config = discover(start if start.exists() else Path.cwd(), args.config)
    return config.with_overrides(
        select=args.select, ignore=args.ignore if args.ignore is None else config.ignore + args.ignore,
        extend_select=args.extend_select, exclude=args.exclude, fail_level=args.fail_level,
        extend_exclude=None if args.extend_exclude is None else config.extend_exclude + args.extend_exclude,
        target_gpu=args.gpu, devices=args.devices,
    )


def _target(args, config):
    """The GPU to advise for: --gpu / target-gpu by name, or --detect on this machine."""
    if config.target_gpu:
        from advisor.hardware.table import lookup
        return lookup(config.target_gpu)
    if args.detect:
        from advisor.hardware.detect import detect
        return detect().target()
    return None


def _trace_scripts(args) -> list[str]:
    """Scripts to import for --trace: the .py files named on the command line (a folder is
    not imported wholesale), or the file a `--model file.py:Name` names."""
    scripts = [p for p in args.paths if p.endswith(".py") and Path(p).is_file()]
    if not scripts and args.model and ".py:" in args.model:
        scripts = [args.model.split(".py:", 1)[0] + ".py"]
    return scripts


def _validated(report, args) -> bool:
    """True when every script with a recommended fix trains fine under the recommended precision."""
    from advisor.validate import ValidationError, validate_candidates
    precision = report.recommendation.precision if report.recommendation is not None else None
    scripts = sorted({f.path for f in report.findings if f.fix and f.fix.applicability == "recommended"})
    for script in scripts:
        if precision is None:
            print(f"prec-advisor: {script}: --validate runs precision values only; recommended fixes not applied",
                  file=sys.stderr)
            return False
        try:
            result = validate_candidates(script, [precision], model=args.model)
        except ValidationError as exc:
            print(f"prec-advisor: {script}: validation could not run ({exc}); recommended fixes not applied",
                  file=sys.stderr)
            return False
        entry = next(c for c in result["candidates"] if c["precision"] == precision)
        verdict = "passed" if entry["passed"] else f"failed ({entry['reason']})"
        print(f"prec-advisor: {script}: {precision} {verdict} on {result['hardware']['name']}", file=sys.stderr)
        if not entry["passed"]:
            return False
    return True


def _render(args, report, catalogue, out, models=None) -> None:
    if args.format == "json":
        output.render_json(report, out, models)
    elif args.format == "sarif":
        output.render_sarif(report, catalogue, out)
    elif args.format == "github":
        output.render_github(report, out)
    else:
        color = args.color == "always" or (args.color == "auto" and out.isatty() and not os.environ.get("NO_COLOR"))
        output.render_text(report, out, color=color, show_source=args.show_source, statistics=args.statistics,
                           quiet=args.quiet, models=models)


def _read_stdin(args) -> sourcefile.SourceFile:
    """The code piped in, decoded as a file is (BOM, coding cookie, NUL bytes), not by the locale.

    An input that cannot be decoded is a one-line error; with --fix its bytes
    still go back to stdout unchanged, so an editor piping its buffer keeps it.
    """
    raw = sys.stdin.buffer.read()
    try:
        return sourcefile.decode(args.stdin_filename or "-", raw)
    except sourcefile.InputError:
        if args.fix and not args.diff:
            sys.stdout.buffer.write(raw)
        raise


def _fix_stdin(checker, results, args, source: sourcefile.SourceFile, judge) -> int:
    """`-` with --fix/--diff: the fixed text (or its diff) goes to stdout, like ruff."""
    from advisor.fix import fixer
    recheck = fixer.rechecker(results, checker.catalogue, checker.index, judge)
    plan = fixer.plan_fixes(judge(results), recheck, args.unsafe_fixes, checker.target is not None,
                            {source.path: source})
    state = plan.files.get(source.path)
    if args.diff:
        sys.stdout.write(fixer.unified_diff(state) if state and state.changed else "")
        return EXIT_FINDINGS if state and state.changed else EXIT_OK
    sys.stdout.flush()
    sys.stdout.buffer.write(sourcefile.encode(source, state.text) if state and state.changed else source.raw)
    return EXIT_FINDINGS if plan.report.failed(checker.config.fail_level) and not args.exit_zero else EXIT_OK


def run(args) -> int:
    try:
        config = _config(args)
        target = _target(args, config)
        checker = api.Checker.create(config, target, use_cache=not args.no_cache)
    except (ConfigError, CatalogueError, ValueError) as exc:  # hardware.UnknownGpu names the closest GPUs
        print(f"prec-advisor: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    try:
        source = _read_stdin(args) if args.paths == ["-"] else None
    except sourcefile.InputError as exc:
        print(f"prec-advisor: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    stdin = (source.path, source.text) if source is not None else None
    results = checker.scan(args.paths, stdin, args.jobs)
    traced = checker.trace(_trace_scripts(args), args.model, args.trace_timeout, results,
                           project_roots(args.paths, config.root)) if args.trace else []
    extra_ops = [site for t in traced for site in t.ops]
    judge = lambda fresh: checker.judge(fresh, extra_ops)  # noqa: E731 - --fix passes re-judge the same way
    if stdin is not None and (args.fix or args.diff):
        return _fix_stdin(checker, results, args, source, judge)
    report = judge(results)
    fix_exit = EXIT_OK
    if args.fix or args.diff:
        from advisor.fix import fixer
        recheck = fixer.rechecker(results, checker.catalogue, checker.index, judge)
        recommended = target is not None and (not args.validate or _validated(report, args))
        outcome = fixer.apply(report, recheck, "diff" if args.diff else "fix", args.unsafe_fixes, recommended,
                              sys.stdout, sys.stderr, config.fail_level)
        if args.diff:
            return outcome.exit_code
        report, fix_exit = outcome.report, outcome.exit_code
    trace_errors = [error for t in traced for error in t.errors]
    report.errors += len(trace_errors)  # a model that could not be traced is an input we could not check
    _render(args, report, checker.catalogue, sys.stdout, [m for t in traced for m in t.models] if args.trace else None)
    for finding in report.findings:
        if finding.code == "PRC001" and args.format != "text":
            print(f"{finding.path}:{finding.line}: error: {finding.message}", file=sys.stderr)
    for error in trace_errors:
        print(f"prec-advisor: error: {error}", file=sys.stderr)
    if report.errors or fix_exit == EXIT_ERROR or trace_errors:
        return EXIT_ERROR
    if report.failed(config.fail_level) and not args.exit_zero:
        return EXIT_FINDINGS
    return EXIT_OK
