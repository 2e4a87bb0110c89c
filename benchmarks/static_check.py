"""Static checker speed against its floors, measured side by side in one run.

(a) A real code base (an installed package's source tree, Lightning by default):
    the whole `check` versus merely parsing every file with libcst, ratio printed.
(b) One small file: `prec-advisor check FILE` versus `python -c "import libcst"`.

Usage: python benchmarks/static_check.py [TREE] [--repeat N]
"""
from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import time
from pathlib import Path

import libcst

from advisor import api
from advisor.config import Config

ROOT = Path(__file__).resolve().parent.parent


def default_tree() -> Path:
    spec = importlib.util.find_spec("lightning")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("lightning is not installed: pass a source tree to measure")
    return Path(next(iter(spec.submodule_search_locations)))


def parse_floor(files: list[Path]) -> float:
    start = time.perf_counter()
    for path in files:
        try:
            libcst.parse_module(path.read_bytes())
        except libcst.ParserSyntaxError:
            pass
    return time.perf_counter() - start


def full_check(tree: Path) -> tuple[float, int]:
    start = time.perf_counter()
    report = api.check([str(tree)], Config())
    return time.perf_counter() - start, len(report.findings)


def wall(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, capture_output=True, check=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tree", nargs="?", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    tree = args.tree or default_tree()
    files = sorted(tree.rglob("*.py"))
    lines = sum(p.read_bytes().count(b"\n") for p in files)
    floors, checks = [], []
    for _ in range(args.repeat):
        floors.append(parse_floor(files))
        elapsed, findings = full_check(tree)
        checks.append(elapsed)
    floor, check = statistics.median(floors), statistics.median(checks)
    print(f"(a) {tree}: {len(files)} files, {lines} lines, {findings} findings")
    print(f"    libcst parse floor (1 process): {floor:.2f} s   full check: {check:.2f} s   ratio check/floor: {check / floor:.2f}")
    small = ROOT / "examples" / "clean_train.py"
    imports = statistics.median(wall([sys.executable, "-c", "import libcst"]) for _ in range(args.repeat))
    one = statistics.median(wall([sys.executable, "-m", "advisor", "check", str(small)]) for _ in range(args.repeat))
    print(f"(b) one small file: check {one:.3f} s   `import libcst` {imports:.3f} s   ratio: {one / imports:.2f} (target < 2)")


if __name__ == "__main__":
    main()
