"""The dispatch-mode fallback: data-dependent control flow, on meta or on CPU, and library frames."""
from pathlib import Path

import pytest

from advisor.trace.api import trace_script

MODELS = Path(__file__).parent / "models"


def _line(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


@pytest.fixture(scope="module")
def branchy():
    return trace_script(str(MODELS / "branchy.py"))


def test_value_branch_falls_back_to_a_cpu_forward(branchy):
    script = MODELS / "branchy.py"
    entry = next(m for m in branchy.models if m["name"] == "ValueBranch")
    assert entry["trace"] == "dispatch"
    assert entry["mode"] == "dispatch-cpu" and entry["precision"] == "bf16-mixed"
    assert "Tensor.item() cannot be called on meta tensors" in entry["reason"] and "ran on CPU" in entry["reason"]
    sites = {(s.op, s.span.line, s.function) for s in branchy.ops if s.function.startswith("ValueBranch")}
    assert sites == {("aten.index_add_.default", _line(script, ".index_add_("), "ValueBranch.forward")}


def test_shape_branch_runs_on_meta(branchy):
    script = MODELS / "branchy.py"
    entry = next(m for m in branchy.models if m["name"] == "ShapeBranch")
    assert entry["trace"] == "dispatch" and entry["mode"] == "dispatch-meta" and entry["reason"] is None
    sites = {(s.op, s.span.line) for s in branchy.ops if s.function.startswith("ShapeBranch")}
    assert sites == {("aten.scatter_add_.default", _line(script, ".scatter_add_("))}
    assert branchy.errors == []


def test_library_op_is_placed_at_the_users_call_with_the_library_chain():
    script = MODELS / "pyg_gcn.py"
    result = trace_script(str(script), "PooledGCN")
    assert result.errors == [] and result.models[0]["trace"] == "dispatch"
    (site,) = result.ops
    assert (site.path, site.span.line, site.op) == (str(script), _line(script, "return scatter("),
                                                    "aten.scatter_add_.default")
    assert site.chain == ("scatter", "aten.scatter_add_")  # PyG's scatter, then the aten op it issued
    assert "observed running in bfloat16" in site.observed
