"""fx symbolic tracing of real models: helper-module scatters, PyG layers, names matching the catalogue."""
from pathlib import Path

import pytest

from advisor.catalogue import load_catalogue
from advisor.checks.ops import matching_rules
from advisor.trace.api import trace_script

MODELS = Path(__file__).parent / "models"


def _line(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def _codes(site) -> set:
    return {rule.code for rule in matching_rules(site, load_catalogue().op_rules())}


@pytest.fixture(scope="module")
def helper_gnn():
    return trace_script(str(MODELS / "gnn_helper.py"))


def test_scatter_in_a_helper_module_is_found_where_it_is(helper_gnn):
    helpers = MODELS / "graph_ops.py"
    assert helper_gnn.errors == []
    assert [m["trace"] for m in helper_gnn.models] == ["symbolic"]
    found = {(Path(s.path).name, s.span.line, s.op, s.source, s.context) for s in helper_gnn.ops}
    assert found == {
        ("graph_ops.py", _line(helpers, "out.index_add_("), "Tensor.index_add_", "trace", "forward"),
        ("graph_ops.py", _line(helpers, "total.scatter_add_("), "Tensor.scatter_add_", "trace", "forward"),
        ("graph_ops.py", _line(helpers, "count.scatter_add_("), "Tensor.scatter_add_", "trace", "forward"),
    }
    assert {code for s in helper_gnn.ops for code in _codes(s)} == {"PRC201", "PRC202"}


def test_models_entry_describes_the_lightning_module(helper_gnn):
    (entry,) = helper_gnn.models
    assert entry == {"name": "HelperGNN", "path": str(MODELS / "gnn_helper.py"), "line": 9, "params": 90,
                     "trainable_params": 90, "linear_params": 90, "trace": "symbolic", "reason": None}


def test_pyg_message_passing_layers_are_kept_whole_and_matched_by_mro():
    script = MODELS / "pyg_gcn.py"
    result = trace_script(str(script), "GCN")
    assert result.errors == [] and result.models[0]["trace"] == "symbolic"
    propagate = "torch_geometric.nn.MessagePassing.propagate"
    sites = sorted((s.span.line, s.kind, s.op) for s in result.ops)
    assert sites == [(_line(script, "self.conv1(x, edge_index)"), "subclass", propagate),
                     (_line(script, "self.conv2(h, edge_index)"), "subclass", propagate)]
    assert all(_codes(s) == {"PRC201"} for s in result.ops)


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
