"""fx symbolic tracing of real models: helper-module scatters, PyG layers, names matching the catalogue."""
from pathlib import Path

import pytest

from advisor.catalogue import load_catalogue
from advisor.checks.ops import matching_rules
from advisor.modelload import load_models
from advisor.trace import graph
from advisor.trace.api import leaf_classes, op_sites, trace_script
from advisor.trace.runner import leaf_test

MODELS = Path(__file__).parent / "models"


def _line(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def _codes(site) -> set:
    return {rule.code for rule in matching_rules(site, load_catalogue().op_rules())}


def _symbolic_sites(script: Path, spec: str) -> list:
    """fx's op sites for a model built on meta, as the parent turns them into OpSites
    (the runner uses fx for models without an example input)."""
    catalogue = load_catalogue()
    (loaded,) = load_models(str(script), spec, device="meta")
    raw = graph.trace_ops(loaded.module, leaf_test(set(leaf_classes(catalogue)), catalogue.aliases))
    return [site for r in raw for site in op_sites(r, str(script), catalogue)]


@pytest.fixture(scope="module")
def helper_gnn():
    return trace_script(str(MODELS / "gnn_helper.py"))


def test_scatter_in_a_helper_module_is_found_where_it_is(helper_gnn):
    helpers = MODELS / "graph_ops.py"
    assert helper_gnn.errors == []
    assert [m["mode"] for m in helper_gnn.models] == ["dispatch-meta"]
    found = {(Path(s.path).name, s.span.line, s.op, s.source, s.context) for s in _symbolic_sites(
        MODELS / "gnn_helper.py", "HelperGNN")}
    assert found == {
        ("graph_ops.py", _line(helpers, "out.index_add_("), "Tensor.index_add_", "trace", "forward"),
        ("graph_ops.py", _line(helpers, "total.scatter_add_("), "Tensor.scatter_add_", "trace", "forward"),
        ("graph_ops.py", _line(helpers, "count.scatter_add_("), "Tensor.scatter_add_", "trace", "forward"),
    }
    assert {code for s in helper_gnn.ops for code in _codes(s)} == {"PRC201", "PRC202"}
    traced = {(Path(s.path).name, s.span.line, s.op) for s in helper_gnn.ops}  # the same lines, observed in bf16
    assert {(name, line) for name, line, _ in traced} == {(name, line) for name, line, *_ in found}
    assert all("observed running in bfloat16" in s.observed for s in helper_gnn.ops)


def test_models_entry_describes_the_lightning_module(helper_gnn):
    (entry,) = helper_gnn.models
    assert entry["time_s"] > 0
    assert {**entry, "time_s": None} == {
        "name": "HelperGNN", "path": str(MODELS / "gnn_helper.py"), "line": 9, "params": 90, "trainable_params": 90,
        "linear_params": 90, "trace": "dispatch", "mode": "dispatch-meta", "precision": "bf16-mixed", "reason": None,
        "error": None, "time_s": None}


def test_pyg_message_passing_layers_are_kept_whole_and_matched_by_mro():
    script = MODELS / "pyg_gcn.py"
    propagate = "torch_geometric.nn.MessagePassing.propagate"
    found = _symbolic_sites(script, "GCN")
    sites = sorted((s.span.line, s.kind, s.op) for s in found)
    assert sites == [(_line(script, "self.conv1(x, edge_index)"), "subclass", propagate),
                     (_line(script, "self.conv2(h, edge_index)"), "subclass", propagate)]
    assert all(_codes(s) == {"PRC201"} and "dtype not observed" in s.observed for s in found)


def test_every_torch_function_pattern_is_spelled_as_fx_names_it():
    """A catalogue name like torch.linalg.inv must be what graph.function_name gives its object."""
    import importlib

    from advisor.trace.graph import function_name

    checked = 0
    for rule in load_catalogue().op_rules():
        for pattern in rule.patterns:
            name = pattern.function
            if not name or "*" in name or not name.startswith("torch.") or name.startswith("torch.ops."):
                continue
            module, _, attr = name.rpartition(".")
            obj = getattr(importlib.import_module(module), attr, None)
            if obj is not None:
                assert function_name(obj) == name
                checked += 1
    assert checked > 20
