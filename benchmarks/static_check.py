"""The static checker's speed as ratios to its floors, all measured side by side in one run.

Every measure is a fresh `python` process; its cost is the CPU seconds (user + system) of the
whole process tree, read with getrusage(RUSAGE_CHILDREN) around it, so a worker pool earns
nothing and other jobs on the machine change the figures far less than wall time.

  (a) `check` of the installed lightning tree       / libcst-parsing each of its files once  target <= 1.0
  (b) `check` of the installed torch_geometric tree / libcst-parsing each of its files once  target <= 1.0
  (c) `check` of lightning's trainer/trainer.py     / `python -c "import libcst"`           target <= 1.5
  (d) `prec-advisor --version`                      / `python -c "import libcst"`           target <= 0.6

Each ratio is the median of N measure/floor pairs, run back to back in alternating order, so that
the machine's speed, which drifts by a third within minutes on a shared VM, cancels out of each pair.
Three more lines, without a target, explain (b): the same check in one process (`-j 1`); the floor
itself split over as many processes as the check's pool runs at once (on a machine whose cores share
their hardware every process then runs slower, and CPU seconds count that); and the first round's
per-file work, each file's check alternating with its parse in one process, the one figure here
that repeats to about 1%.

Usage: python benchmarks/static_check.py [--repeat N]   (N pairs per ratio; exit 1 if a ratio misses)
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The floor's work, shared by the scripts below: libcst's parse of one file (a file it rejects costs its try).
PARSE = """
import sys, pathlib, libcst
def parse(path):
    try:
        libcst.parse_module(path.read_bytes())
    except Exception:
        pass
paths = sorted(pathlib.Path(sys.argv[1]).rglob("*.py"))
"""
PARSE_EVERY_FILE = PARSE + """
for path in paths:
    parse(path)
"""
PARSE_IN_PROCESSES = PARSE + """
import multiprocessing, os
def parse_all(part):
    for path in part:
        parse(path)
jobs = os.cpu_count() or 1
with multiprocessing.get_context("fork").Pool(jobs) as pool:
    pool.map(parse_all, [paths[k::jobs] for k in range(jobs)])
"""
# Each file's first-round check and its libcst parse, alternately in one process: the machine's drift,
# which moves a whole-run ratio by a third, cancels file by file (runs agree to about 1%).
FILE_BY_FILE = PARSE + """
import time
from advisor.api import Checker
from advisor.engine import check_path
checker, spent = Checker.create(), {"check": 0.0, "floor": 0.0}
for number, path in enumerate(paths):
    for turn in ("check", "floor") if number % 2 else ("floor", "check"):
        start = time.process_time()
        if turn == "check":
            check_path(path, str(path), checker.catalogue, checker.index)
        else:
            parse(path)
        spent[turn] += time.process_time() - start
print(spent["check"], spent["floor"])
"""


def package_tree(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"{name} is not installed: the benchmark measures its source tree")
    return Path(next(iter(spec.submodule_search_locations)))


def cpu_seconds(command: list[str]) -> float:
    """CPU seconds of `command` and every process it waited for."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(command, cwd=ROOT, capture_output=True, timeout=1800)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode not in (0, 1):
        sys.exit(f"{' '.join(command)} exited {result.returncode}: {result.stderr.decode()[-500:]}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


@dataclass
class Ratio:
    name: str
    measured: list[str]
    floor_name: str
    floor: list[str]
    target: float | None  # None: a line that explains another, with no verdict

    def run(self, repeat: int) -> tuple[float, float, list[float]]:
        """Median CPU seconds of the measure and of its floor, and the ratio of each pair."""
        pairs = []
        for turn in range(repeat):
            if turn % 2:
                floor, measured = cpu_seconds(self.floor), cpu_seconds(self.measured)
            else:
                measured, floor = cpu_seconds(self.measured), cpu_seconds(self.floor)
            pairs.append((measured, floor))
        return (statistics.median(m for m, _ in pairs), statistics.median(f for _, f in pairs),
                sorted(m / f for m, f in pairs))


def ratios() -> list[Ratio]:
    python = sys.executable
    check = [python, "-m", "advisor", "check", "-q", "--exit-zero", "--no-cache"]  # measure the work, not a cache
    import_libcst = [python, "-c", "import libcst"]
    lightning, pyg = package_tree("lightning"), package_tree("torch_geometric")
    trainer = lightning / "pytorch" / "trainer" / "trainer.py"
    trainer_lines = trainer.read_bytes().count(b"\n")
    parse_pyg = [python, "-c", PARSE_EVERY_FILE, str(pyg)]
    return [
        Ratio(f"(a) check {lightning}", check + [str(lightning)], "libcst parse of every file",
              [python, "-c", PARSE_EVERY_FILE, str(lightning)], 1.0),
        Ratio(f"(b) check {pyg}", check + [str(pyg)], "libcst parse of every file", parse_pyg, 1.0),
        Ratio("    (b) in one process, `check -j 1`", check + ["-j", "1", str(pyg)], "the same floor", parse_pyg, None),
        Ratio(f"    the floor of (b) in {os.cpu_count()} processes at once",
              [python, "-c", PARSE_IN_PROCESSES, str(pyg)], "the floor in one", parse_pyg, None),
        Ratio(f"(c) check {trainer.relative_to(lightning.parent)} ({trainer_lines} lines)", check + [str(trainer)],
              '`python -c "import libcst"`', import_libcst, 1.5),
        Ratio("(d) prec-advisor --version", [python, "-m", "advisor", "--version"],
              '`python -c "import libcst"`', import_libcst, 0.6),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"CPU seconds of whole process trees, the median of {args.repeat} pairs per ratio")
    missed = 0
    for ratio in ratios():
        measured, floor, values = ratio.run(args.repeat)
        value = statistics.median(values)
        spread = f" (pairs {values[0]:.2f}-{values[-1]:.2f})" if len(values) > 1 else ""
        if ratio.target is None:
            verdict = ""
        else:
            verdict = f" (target <= {ratio.target}) {'holds' if value <= ratio.target else 'MISSES'}"
            missed += value > ratio.target
        print(f"{ratio.name}\n    {measured:7.3f} s   vs {ratio.floor_name}: {floor:7.3f} s   "
              f"ratio {value:.2f}{spread}{verdict}", flush=True)
        if ratio.name.startswith("(b)"):
            print_file_by_file(package_tree("torch_geometric"))
    return 1 if missed else 0


def print_file_by_file(tree: Path) -> None:
    """The steady part of (b): its first round, each file's check against its parse in one process."""
    result = subprocess.run([sys.executable, "-c", FILE_BY_FILE, str(tree)], cwd=ROOT, capture_output=True,
                            text=True, timeout=1800, check=True)
    check, floor = map(float, result.stdout.split())
    print(f"    (b) file by file, each file's first-round check alternating with its parse in one process\n"
          f"    {check:7.3f} s   vs their parses: {floor:7.3f} s   ratio {check / floor:.2f} "
          "(no start-up, no wrapper round, no project judgement)", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
