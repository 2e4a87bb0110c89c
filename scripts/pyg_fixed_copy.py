"""Apply `check --fix --unsafe-fixes` to a copy of the installed torch_geometric and run it.

PyG's own test suite is not in the wheel (and this machine is offline), so this runner
checks the fixed copy against an untouched copy of the same tree, each imported in its own
child process: every touched module must import; every public function or class of it that
TorchScript scripted before must script after; every touched nn.Module that builds with a
few common signatures (`cls(16, 16)`, `cls(16)`, `cls()`) runs a forward on random graph
data, seeded, in fp32 and fp64, and its outputs must be bit-identical before and after
(the fix may change only fp16/bf16 runs). Printed: files, fixes by kind, the counts above.

Usage: python scripts/pyg_fixed_copy.py [--keep DIR]
Exit status: 0 no regression, 1 a regression, 2 torch_geometric not installed.
"""
from __future__ import annotations

import argparse
import collections
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHILD_TIMEOUT = 1800


def _check(tree: Path, *args: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "advisor", "check", str(tree), "--format", "json", "--exit-zero",
                           *args], cwd=ROOT, capture_output=True, text=True, timeout=CHILD_TIMEOUT)
    return json.loads(done.stdout)


def fix_copy(source: Path, work: Path) -> tuple[Path, Path, dict]:
    """(untouched copy, fixed copy, what the fix did)."""
    before, after = work / "before" / "torch_geometric", work / "after" / "torch_geometric"
    for target in (before, after):
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    found = _check(after)
    fixable = [f for f in found["findings"] if f["fix"] and f["fix"]["applicability"] in ("safe", "unsafe")]
    done = subprocess.run([sys.executable, "-m", "advisor", "check", str(after), "--fix", "--unsafe-fixes", "-q"],
                          cwd=ROOT, capture_output=True, text=True, timeout=CHILD_TIMEOUT)
    left = _check(after)
    touched = sorted(str(p.relative_to(after.parent)) for p in after.rglob("*.py")
                     if p.read_bytes() != (before / p.relative_to(after)).read_bytes())
    kinds = lambda findings: collections.Counter(  # noqa: E731
        f"{f['code']} {f.get('op') or ''} ({f['fix']['applicability']})".replace(" (", "(", 0) for f in findings
        if f["fix"] and f["fix"]["applicability"] in ("safe", "unsafe"))
    stats = {"files": sum(1 for _ in after.rglob("*.py")), "findings": len(found["findings"]),
             "fixable": dict(kinds(fixable)), "fixed": dict(kinds(fixable) - kinds(left["findings"])),
             "remaining": len(left["findings"]), "touched_files": touched,
             "fix_exit": done.returncode, "fix_summary": done.stderr.strip().splitlines()[-1:]}
    return before, after, stats


CHILD = r'''
import importlib, inspect, json, sys, warnings
import torch
warnings.simplefilter("ignore")
modules, out = json.loads(sys.argv[1]), sys.argv[2]
report = {"imported": [], "import_errors": {}, "scripted": [], "forward": {}}
outputs = {}

def inputs(dtype):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(12, 16, generator=g, dtype=torch.float64).to(dtype)
    edge_index = torch.randint(0, 12, (2, 40), generator=g)
    index = torch.randint(0, 4, (12,), generator=g).sort().values
    return x, edge_index, index

def build(cls):
    for args in ((16, 16), (16,), ()):
        try:
            torch.manual_seed(0)
            return cls(*args)
        except Exception:
            continue
    return None

for name in modules:
    try:
        module = importlib.import_module(name)
    except Exception as exc:
        report["import_errors"][name] = f"{type(exc).__name__}: {exc}"[:300]
        continue
    report["imported"].append(name)
    for attr, obj in sorted(vars(module).items()):
        if attr.startswith("_") or getattr(obj, "__module__", None) != name:
            continue
        label = f"{name}.{attr}"
        if inspect.isfunction(obj):
            try:
                torch.jit.script(obj)
                report["scripted"].append(label)
            except Exception:
                pass
        elif inspect.isclass(obj) and issubclass(obj, torch.nn.Module) and not inspect.isabstract(obj):
            instance = build(obj)
            if instance is None:
                continue
            try:
                torch.jit.script(instance)
                report["scripted"].append(label)
            except Exception:
                pass
            for dtype in (torch.float32, torch.float64):
                x, edge_index, index = inputs(dtype)
                model = instance.to(dtype).eval()
                for call in ((x, edge_index), (x, index), (x,)):
                    try:
                        with torch.no_grad():
                            result = model(*call)
                    except Exception:
                        continue
                    if isinstance(result, (tuple, list)):
                        result = result[0]
                    if isinstance(result, torch.Tensor):
                        outputs[f"{label}/{dtype}"] = result
                        report["forward"][f"{label}/{dtype}"] = str(result.dtype)
                    break
torch.save(outputs, out + ".pt")
json.dump(report, open(out + ".json", "w"))
'''


def run_side(tree: Path, modules: list[str], out: Path) -> tuple[dict, dict]:
    env = dict(os.environ, PYTHONPATH=str(tree.parent))
    done = subprocess.run([sys.executable, "-c", CHILD, json.dumps(modules), str(out)], env=env,
                          capture_output=True, text=True, timeout=CHILD_TIMEOUT, cwd=tree.parent)
    if done.returncode != 0:
        raise SystemExit(f"child failed in {tree}: {done.stderr[-2000:]}")
    import torch
    return json.loads(Path(str(out) + ".json").read_text()), torch.load(str(out) + ".pt")


def compare(before: tuple, after: tuple) -> dict:
    (report_b, out_b), (report_a, out_a) = before, after
    import torch
    differ = sorted(k for k in out_b if k not in out_a or out_a[k].dtype != out_b[k].dtype
                    or not torch.equal(out_a[k], out_b[k]))
    return {"modules": len(report_b["imported"]) + len(report_b["import_errors"]),
            "imported_before": len(report_b["imported"]), "imported_after": len(report_a["imported"]),
            "import_errors_after": report_a["import_errors"],
            "scripted_before": len(report_b["scripted"]), "scripted_after": len(report_a["scripted"]),
            "no_longer_scripted": sorted(set(report_b["scripted"]) - set(report_a["scripted"])),
            "forwards_compared": len(out_b), "outputs_differ": differ}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()
    spec = importlib.util.find_spec("torch_geometric")
    if spec is None:
        print("torch_geometric is not installed", file=sys.stderr)
        return 2
    source = Path(next(iter(spec.submodule_search_locations)))
    work = args.keep or Path(tempfile.mkdtemp(prefix="pyg-fix-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        before, after, stats = fix_copy(source, work)
        modules = [p[:-3].replace("/", ".").removesuffix(".__init__") for p in stats["touched_files"]]
        result = compare(run_side(before, modules, work / "before-run"), run_side(after, modules, work / "after-run"))
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({**stats, **result}, indent=2))
    regression = (result["imported_after"] < result["imported_before"] or result["no_longer_scripted"]
                  or result["outputs_differ"])
    return 1 if regression else 0


if __name__ == "__main__":
    sys.exit(main())
