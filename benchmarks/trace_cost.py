"""What `check --trace` costs end to end: a real LightningModule script, and a 70B model on meta.

    python benchmarks/trace_cost.py

1. `prec-advisor check tests/models/pyg_gcn.py --trace` as a user runs it (child start, the
   Lightning import, build, census, trace), against `check` without --trace and a bare
   `python -c "import lightning"` measured in the same run: wall and CPU seconds of the
   whole process tree, median of 3.
2. `trace_script` of tests/models/llama_like.py:llama_70b (78B parameters, never allocated):
   wall time and the child's peak RSS. Budget: under 60 s and 1 GiB.
"""
from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "tests" / "models" / "pyg_gcn.py"  # two LightningModules: PyG layers, a value branch
LLAMA = ROOT / "tests" / "models" / "llama_like.py"
BUDGET_S, BUDGET_MIB = 60.0, 1024
REPEAT = 3


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(command: list) -> tuple:
    """(wall s, CPU s of the process tree) for one run of `command`."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cpu, start = _children_cpu(), time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
    return time.perf_counter() - start, _children_cpu() - cpu


def _median(command: list) -> tuple:
    runs = [_run(command) for _ in range(REPEAT)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def end_to_end() -> None:
    cases = [
        ("python -c 'import lightning'", [sys.executable, "-c", "import lightning"]),
        ("check (static)", [sys.executable, "-m", "advisor", "check", str(SCRIPT)]),
        ("check --trace", [sys.executable, "-m", "advisor", "check", str(SCRIPT), "--trace"]),
    ]
    measured = {label: _median(command) for label, command in cases}
    base_wall, base_cpu = measured["python -c 'import lightning'"]
    print(f"{SCRIPT.relative_to(ROOT)}, median of {REPEAT}:")
    traced = subprocess.run([sys.executable, "-m", "advisor", "check", str(SCRIPT), "--trace"], cwd=ROOT,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True, timeout=600)
    print("".join(f"  {line}\n" for line in traced.stdout.splitlines() if line.startswith("Traced")), end="")
    for label, (wall, cpu) in measured.items():
        print(f"  {label:<30} wall {wall:6.2f} s   CPU {cpu:6.2f} s   "
              f"ratio to import lightning {wall / base_wall:4.2f} (wall) {cpu / base_cpu:4.2f} (CPU)")


def big_model() -> bool:
    sys.path.insert(0, str(ROOT))
    from advisor.trace.api import trace_script

    start = time.perf_counter()
    result = trace_script(str(LLAMA), "llama_70b", timeout=300)
    wall = time.perf_counter() - start
    child_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux
    (model,) = result.models
    print(f"llama_70b: {model['params']:,} parameters, {model['mode']} under {model['precision']}, "
          f"in-child {model['time_s']:.2f} s; trace_script {wall:.2f} s, child peak RSS {child_mib:.0f} MiB, "
          f"errors {result.errors}")
    ok = wall < BUDGET_S and child_mib < BUDGET_MIB and not result.errors
    print("within budget" if ok else f"OVER BUDGET ({BUDGET_S:g} s, {BUDGET_MIB} MiB)")
    return ok


def main() -> int:
    end_to_end()
    return 0 if big_model() else 1


if __name__ == "__main__":
    raise SystemExit(main())
