"""Census + trace of a 7B-parameter LLaMA-like model on the meta device: time and peak memory.

    python benchmarks/trace_7b.py

Budget (issue 6): under 10 s and 1 GB on a 2-core laptop-class CPU. Nothing is
allocated: the weights would be 25 GiB in fp32. The first part runs the
child's steps in this process (so their peak RSS is measurable), the second
the whole `trace_script` as `check --trace` calls it (child start and imports
included).
"""
from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "tests" / "models" / "llama_like.py"
SPEC = "llama_7b"
BUDGET_S, BUDGET_MIB = 10.0, 1024


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _timed(label: str, func):
    start = time.perf_counter()
    value = func()
    print(f"{label:<28} {time.perf_counter() - start:7.2f} s   peak RSS {_peak_mib():7.0f} MiB")
    return value


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from advisor.catalogue import load_catalogue
    from advisor.modelload import load_models
    from advisor.trace import census, dispatch, graph
    from advisor.trace.api import leaf_classes, trace_script
    from advisor.trace.runner import leaf_test

    catalogue = load_catalogue()
    is_leaf = leaf_test(set(leaf_classes(catalogue)), catalogue.aliases)
    start = time.perf_counter()
    _timed("import torch", lambda: __import__("torch"))
    loaded = _timed("build on meta", lambda: load_models(str(SCRIPT), SPEC, device="meta")[0])
    counted = _timed("census", lambda: census.count(loaded.module, loaded.name))
    ops = _timed("fx symbolic_trace", lambda: graph.trace_ops(loaded.module, is_leaf))
    _timed("dispatch recorder (meta)", lambda: dispatch.record_ops(loaded.module, loaded.example_input, "meta"))
    in_process = time.perf_counter() - start
    print(f"{counted.params:,} parameters ({counted.linear_share:.0%} in nn.Linear), {len(ops)} op sites; "
          f"in-process total {in_process:.2f} s, peak RSS {_peak_mib():.0f} MiB")
    result = _timed("trace_script (child)", lambda: trace_script(str(SCRIPT), SPEC))
    child_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"trace_script: {result.models[0]['params']:,} parameters, trace {result.models[0]['trace']}, "
          f"errors {result.errors}, child peak RSS {child_mib:.0f} MiB")
    ok = in_process < BUDGET_S and max(_peak_mib(), child_mib) < BUDGET_MIB
    print("within budget" if ok else f"OVER BUDGET ({BUDGET_S:g} s, {BUDGET_MIB} MiB)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
