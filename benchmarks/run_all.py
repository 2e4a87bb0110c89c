"""Every figure of docs/benchmarks.md in one run, with the machine it ran on.

1. Static check against its floors (benchmarks/static_check.py): CPU-time ratios of the full
   check of the lightning and torch_geometric trees to parsing their files with libcst, of one
   1,800-line file and of `--version` to `python -c "import libcst"`.
2. The same tree through the `prec-advisor check` CLI and through TorchFix (installed into a
   throwaway venv under /tmp: it pins libcst<1.6, which must not reach our venv).
3. Census + trace of a 7B model on the meta device (benchmarks/trace_7b.py).
4. `validate` overhead per candidate: child start, imports, model and Trainer set-up
   (the run's wall time less its training steps, per run).

Usage: python benchmarks/run_all.py [TREE] [--repeat N] [--no-torchfix]
Other jobs on the machine inflate wall times: read the CPU seconds beside them.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TORCHFIX_VENV = Path("/tmp/prec-advisor-bench/torchfix-venv")
VALIDATE_SCRIPT = ROOT / "examples" / "regression.py"
VALIDATE_STEPS, VALIDATE_WARMUP = 20, 2


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else "?"
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    packages = ", ".join(f"{name} {_version(name)}" for name in ("libcst", "torch", "lightning"))
    return (f"{cpu}, {os.cpu_count()} vCPU, {memory:.0f} GiB; {platform.system()} {platform.release()}; "
            f"Python {platform.python_version()}, {packages}")


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def measured(command: list[str], timeout: float = 1800) -> tuple[float, float, int]:
    """(wall s, CPU s of the process and all it waited for, exit status)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, timeout=timeout)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, result.returncode


def median_of(command: list[str], repeat: int) -> tuple[float, float, int]:
    runs = [measured(command) for _ in range(repeat)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs), runs[-1][2]


def section(title: str) -> None:
    print(f"\n== {title}", flush=True)


def run_script(name: str, *args: str) -> None:
    """Run one of the existing benchmark scripts, its output passed through."""
    result = subprocess.run([sys.executable, str(HERE / name), *args], cwd=ROOT, capture_output=True, text=True)
    print(result.stdout.rstrip())
    if result.returncode:
        print(f"({name} exited {result.returncode}: {result.stderr.strip().splitlines()[-1:]})")


def torchfix() -> Path | None:
    """The torchfix executable of the throwaway venv, installed on first use; None if it cannot be."""
    executable = TORCHFIX_VENV / "bin" / "torchfix"
    if not executable.exists():
        steps = ([sys.executable, "-m", "venv", str(TORCHFIX_VENV)],
                 [str(TORCHFIX_VENV / "bin" / "pip"), "install", "-q", "torchfix"])
        for step in steps:
            result = subprocess.run(step, capture_output=True, text=True)
            if result.returncode:
                print(f"TorchFix not available: {' '.join(step[-2:])} failed: {result.stderr.strip()[-200:]}")
                return None
    return executable


def compare_torchfix(tree: Path, repeat: int) -> None:
    ours = median_of([sys.executable, "-m", "advisor", "check", str(tree), "-q", "--exit-zero"], repeat)
    print(f"prec-advisor check: {ours[0]:7.2f} s wall, {ours[1]:7.2f} s CPU (median of {repeat})")
    executable = torchfix()
    if executable is None:
        return
    version = subprocess.run([str(executable), "--version"], capture_output=True, text=True).stdout.strip()
    theirs = median_of([str(executable), str(tree)], repeat)
    print(f"TorchFix {version}:    {theirs[0]:7.2f} s wall, {theirs[1]:7.2f} s CPU, exit {theirs[2]}")
    print(f"TorchFix / prec-advisor: {theirs[0] / ours[0]:.1f}x wall, {theirs[1] / ours[1]:.1f}x CPU")


def validate_overhead() -> None:
    """What a candidate costs beyond its training steps: the child's start, imports, model
    and Trainer set-up. Warm-up steps are counted at the measured step time, so this is an
    upper bound."""
    command = [sys.executable, "-m", "advisor", "validate", str(VALIDATE_SCRIPT), "--candidates", "bf16-mixed",
               "--steps", str(VALIDATE_STEPS), "--warmup", str(VALIDATE_WARMUP), "--format", "json",
               "--rounds", "1"]  # one child run per precision: the figure is per run (the default runs 3 rounds)
    start = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
    wall = time.perf_counter() - start
    if result.returncode not in (0, 1):
        print(f"validate failed (exit {result.returncode}): {result.stderr.strip().splitlines()[-1:]}")
        return
    report = json.loads(result.stdout)
    runs = report["candidates"]
    training = sum((VALIDATE_STEPS + VALIDATE_WARMUP) * run["step_time_s"] for run in runs)
    print(f"{VALIDATE_SCRIPT.name} on {report['hardware']['device']}: {len(runs)} runs (baseline + 1 candidate), "
          f"{VALIDATE_WARMUP} + {VALIDATE_STEPS} steps each, {wall:.1f} s wall in all")
    print("step time: " + ", ".join(f"{run['precision']} {run['step_time_s'] * 1000:.1f} ms" for run in runs))
    print(f"overhead per candidate: {(wall - training) / len(runs):.1f} s (training steps: {training:.2f} s in all)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tree", nargs="?", type=Path, help="source tree (default: the installed lightning package)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-torchfix", action="store_true", help="skip installing and timing TorchFix")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from static_check import package_tree  # benchmarks/ is this script's own folder

    tree = args.tree or package_tree("lightning")
    files = list(tree.rglob("*.py"))
    lines = sum(p.read_bytes().count(b"\n") for p in files)
    print(f"machine: {machine()}")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (other jobs may share the machine)")
    print(f"tree: {tree} ({len(files)} .py files, {lines} lines)")
    section("1. static check against the libcst parse floor (benchmarks/static_check.py)")
    run_script("static_check.py", "--repeat", str(args.repeat))
    section("2. the same tree: prec-advisor check CLI vs TorchFix")
    if args.no_torchfix:
        print("skipped (--no-torchfix)")
    else:
        compare_torchfix(tree, args.repeat)
    section("3. 7B model on the meta device (benchmarks/trace_7b.py)")
    run_script("trace_7b.py")
    section("4. validate overhead per candidate")
    validate_overhead()


if __name__ == "__main__":
    main()
