"""Run `check` and `check --fix --diff` over the installed packages' own source trees.

Real code finds the crashes synthetic tests miss. Each run is a separate
`python -m advisor` process, so a segfault or a hang is seen as what it is.
A crash is any of: a traceback, an exit status other than 0/1/2, JSON that
does not parse, an "internal error" finding, or the time limit; there must be
none. Unparsable files (PRC001) are counted, not crashes: site-packages holds
test data and templates on purpose.

Usage: python scripts/real_repos.py [PACKAGE ...] [--timeout S]   (default: torch lightning transformers)
Exit status: 0 no crash, 1 at least one crash, 2 no package found.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PACKAGES = ("torch", "lightning", "transformers")


def package_tree(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def run(args: list[str], timeout: float) -> tuple[subprocess.CompletedProcess | None, float]:
    start = time.perf_counter()
    try:
        result = subprocess.run([sys.executable, "-m", "advisor", *args], cwd=ROOT, capture_output=True, text=True,
                                timeout=timeout)
    except subprocess.TimeoutExpired:
        result = None
    return result, time.perf_counter() - start


def crash_of(result: subprocess.CompletedProcess | None, timeout: float, json_out: bool) -> str | None:
    """What went wrong with one run, or None when it behaved."""
    if result is None:
        return f"no result within {timeout:g} s"
    if "Traceback" in result.stderr or "Traceback" in result.stdout:
        return "traceback: " + result.stderr.strip().splitlines()[-1]
    if result.returncode not in (0, 1, 2):
        return f"exit status {result.returncode}"
    if json_out:
        try:
            findings = json.loads(result.stdout)["findings"]
        except (ValueError, KeyError):
            return "stdout is not the JSON report"
        internal = [f"{f['path']}:{f['line']}: {f['message']}" for f in findings if "internal error" in f["message"]]
        if internal:
            return f"{len(internal)} internal errors, first: {internal[0]}"
    return None


def survey(name: str, tree: Path, timeout: float) -> bool:
    """Print one package's figures; True when neither run crashed."""
    checked, check_s = run(["check", str(tree), "--format", "json", "--gpu", "a100"], timeout)
    diffed, diff_s = run(["check", str(tree), "--fix", "--diff", "--unsafe-fixes", "--gpu", "a100"], timeout)
    problems = {"check": crash_of(checked, timeout, True), "--fix --diff": crash_of(diffed, timeout, False)}
    print(f"{name}: {tree}")
    if problems["check"] is None:
        data = json.loads(checked.stdout)
        summary, errors = data["summary"], [f for f in data["findings"] if f["code"] == "PRC001"]
        codes: dict = {}
        for finding in data["findings"]:
            codes[finding["code"]] = codes.get(finding["code"], 0) + 1
        print(f"  check        {check_s:7.1f} s  exit {checked.returncode}  {summary['files']} files, "
              f"{summary['findings'] - len(errors)} findings, {len(errors)} unparsable")
        print("               by code: " + ", ".join(f"{c} {n}" for c, n in sorted(codes.items())))
        for error in errors[:5]:
            print(f"               {error['path']}:{error['line']}: {error['message'][:100]}")
    if problems["--fix --diff"] is None:
        files = diffed.stdout.count("\n+++ ") + diffed.stdout.startswith("+++ ")
        tail = diffed.stderr.strip().splitlines()
        summary_line = next((line for line in tail if line.startswith("Would fix")), "no summary line")
        print(f"  --fix --diff {diff_s:7.1f} s  exit {diffed.returncode}  {files} files in the diff; {summary_line}")
    for run_name, problem in problems.items():
        if problem:
            print(f"  CRASH in {run_name}: {problem}")
    return not any(problems.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("packages", nargs="*", default=list(DEFAULT_PACKAGES))
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per run (1800)")
    args = parser.parse_args()
    trees = {name: package_tree(name) for name in args.packages}
    for name in [n for n, tree in trees.items() if tree is None]:
        print(f"{name}: not installed, skipped")
    found = {name: tree for name, tree in trees.items() if tree is not None}
    if not found:
        return 2
    ok = [survey(name, tree, args.timeout) for name, tree in found.items()]
    print("no crash" if all(ok) else f"CRASHES in {ok.count(False)} of {len(ok)} packages")
    return 0 if all(ok) else 1


if __name__ == "__main__":
    raise SystemExit(main())
