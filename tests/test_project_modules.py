"""`check .` on multi-module projects: wrapped ops reported at their call sites with the chain,
every Trainer/Fabric/Lite construction in `settings`, and the safe patterns left alone."""
import json
import os

import pytest

from advisor.api import check
from advisor.config import Config
from advisor.facts import FileFacts
from advisor.scan.modules import ModuleIndex

from conftest import ROOT, package_source, run_cli

PROJECTS = ROOT / "tests" / "projects"


def check_project(name, select=("PRC",)):
    """Findings as (path, line, code, chain) and the settings, checked from the project's root like a user."""
    cwd = os.getcwd()
    os.chdir(PROJECTS / name)
    try:
        report = check(["."], Config(select=select), jobs=1)
    finally:
        os.chdir(cwd)
    found = [(f.path, f.line, f.code, f.extra.get("chain")) for f in report.findings]
    return found, report


def test_src_layout_star_reexports_and_a_torchscript_helper():
    found, _ = check_project("molecular", ("PRC2",))
    assert found == [
        # a helper reached from forward calls the package's re-exported wrapper of a TorchScript helper
        ("src/molpkg/model.py", 14, "PRC202", ["energy", "snn.scatter_add", "_scatter_add", "Tensor.index_add"]),
        # the caller hands in its own (half) `out`: the fp64 accumulator the helper would make is not used
        ("src/molpkg/model.py", 23, "PRC202", ["training_step", "snn.scatter_sum_fp64", "Tensor.index_add_"]),
        ("src/molpkg/nn/scatter.py", 24, "PRC202", None),  # a helper nothing calls (not exported by `*`)
    ]
    # the TorchScript helper's own line (scatter.py:9) is judged at its callers, not reported itself
    # line 18 (ones_like(index): integer counts) and line 19 (fp64 accumulator, no `out` passed) are not reported


def test_chain_finding_message_and_json(tmp_path):
    result = run_cli("check", ".", "--select", "PRC2", "--format", "json", cwd=PROJECTS / "molecular")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    energy = next(f for f in report["findings"] if f["line"] == 14)
    assert energy["chain"] == ["energy", "snn.scatter_add", "_scatter_add", "Tensor.index_add"]
    assert "through `energy` -> `snn.scatter_add` -> `_scatter_add` -> `Tensor.index_add`" in energy["message"]
    assert (energy["column"], energy["end_column"]) == (16, 63)  # the call itself (end exclusive)


def test_script_beside_src_with_lite_and_trainer_subclasses():
    found, report = check_project("litescript")
    assert [(f[0], f[1], f[2]) for f in found] == [("train.py", 4, "PRC101"), ("train.py", 6, "PRC101")]
    lite = next(f for f in report.findings if f.line == 4)
    assert "16-mixed" in lite.message and "Lite is Fabric now" in lite.message
    settings = [(s.kind, s.line, s.callee, s.precision.text if s.precision else None) for s in report.settings]
    assert settings == [
        ("Fabric", 4, "src.trainer.Trainer", "16"),          # class Trainer(LightningLite), 1.x
        ("Fabric", 5, "src.trainer.DeepTrainer", None),       # a subclass of that subclass, no precision
        ("Trainer", 6, "src.fit.ResumingTrainer", '"bf16"'),  # two levels below L.Trainer
    ]
    assert report.settings[0].lite and not report.settings[2].lite


def test_flash_trainer_is_a_setting_from_catalogue_data():
    found, report = check_project("flashapp")
    assert [(f[1], f[2]) for f in found] == [(4, "PRC101")]
    assert [(s.kind, s.callee, s.precision.text if s.precision else None) for s in report.settings] == [
        ("Trainer", "flash.Trainer", "16"), ("Trainer", "flash.Trainer", None)]


def test_setting_classes_extend_from_a_config_rule_file(tmp_path):
    (tmp_path / "extra.toml").write_text('[setting-classes]\n"acme.train.Trainer" = "Trainer"\n')
    (tmp_path / "run.py").write_text("from acme.train import Trainer\nTrainer(precision='bf16')\n")
    report = check([str(tmp_path / "run.py")], Config(extra_rules=(str(tmp_path / "extra.toml"),)), jobs=1)
    assert [(s.kind, s.callee) for s in report.settings] == [("Trainer", "acme.train.Trainer")]
    assert [f.code for f in report.findings] == ["PRC101"]


def test_gnn_package_convs_calling_a_project_scatter():
    found, _ = check_project("gnnpkg", ("PRC2",))
    assert found == [
        ("gnnpkg/aggr.py", 6, "PRC202", None),  # SumAggr.forward itself
        ("gnnpkg/conv/gcn.py", 15, "PRC201", ["forward", "scatter", "Tensor.scatter_add_"]),
        ("gnnpkg/conv/pool.py", 34, "PRC201", None),  # aggr=["mean", "max"]: the mean accumulates
        ("gnnpkg/conv/pool.py", 42, "PRC201", None),  # aggr=SumAggregation()
        ("gnnpkg/models/net.py", 17, "PRC201", ["forward", "scatter_mean", "scatter_sum", "scatter",
                                                "Tensor.scatter_add_"]),
        ("gnnpkg/models/net.py", 21, "PRC207", None),  # self.criterion = nn.BCELoss(), whatever the input dtype
    ]
    # not reported: gcn.py:13 (ones_like(row) counts), MaxConv/EdgeMax(aggr="max" default)/ModuleMax(MaxAggregation);
    # utils/scatter.py's own ops (judged at their callers); net.py:16 `self.aggr(...)` (SumAggr.forward is a
    # forward: its op is reported where it is written, once)


def test_helper_ops_judged_at_their_calls_in_any_module_and_aggregations_inherited():
    found, _ = check_project("chemnet", ("PRC2",))
    assert found == [
        ("chemnet/convs/edge.py", 11, "PRC201", None),  # EdgeSum: SumBase's aggr=self.aggr_name, "add"
        ("chemnet/convs/edge.py", 26, "PRC201", None),  # EdgeMean: its own aggr="mean" beats MaxBase's
        # cross-module calls that may pass 16-bit data, with the chain down to the op
        ("chemnet/layers.py", 14, "PRC201", ["forward", "segment_sum", "add", "Tensor.scatter_add_"]),
        ("chemnet/layers.py", 17, "PRC207", ["training_step", "bce", "torch.nn.functional.binary_cross_entropy"]),
        ("chemnet/ops.py", 19, "PRC202", None),  # half_sum casts to half itself: the caller's fp32 is lost
        ("chemnet/ops.py", 29, "PRC201", ["forward", "segment_sum", "add", "Tensor.scatter_add_"]),  # same module
    ]
    # not reported: the helpers' own ops (ops.py:6, :14, :23), judged at their calls; the calls passing
    # .float()/.double()/dtype=torch.float32 data (layers.py:10-11, ops.py:28); bce with autocast off
    # (layers.py:13); EdgeMax (MaxBase's kwargs.setdefault("aggr", "max")), EdgeMin (aggr_name = "min"
    # overrides SumBase's), Walk (a project base's own `propagate`, no MessagePassing)


def test_every_construction_is_listed_with_precision_null(tmp_path):
    (tmp_path / "t.py").write_text("import lightning as L\nfrom lightning.fabric import Fabric\n"
                                   "trainer = L.Trainer(max_epochs=3)\nfabric = Fabric()\n")
    result = run_cli("check", str(tmp_path / "t.py"), "--format", "json")
    settings = json.loads(result.stdout)["settings"]
    assert [(s["kind"], s["line"], s["precision"], s["normalized"]) for s in settings] == [
        ("Trainer", 3, None, None), ("Fabric", 4, None, None)]


def facts(path, **fields):
    return FileFacts(path=path, module=fields.pop("module", ""), **fields)


def test_module_index_follows_reexports_star_imports_and_all(tmp_path):
    from advisor.facts import FunctionInfo

    def function(name):
        return {name: FunctionInfo(qualname=name, path="", module="", context="helper")}
    pkg = tmp_path / "src" / "pkg"
    (pkg / "nn").mkdir(parents=True)
    for path in ("__init__.py", "nn/__init__.py", "nn/ops.py", "nn/hidden.py"):
        (pkg / path).write_text("")
    init = facts(str(pkg / "nn/__init__.py"), module="pkg.nn", star_imports=("pkg.nn.ops", "pkg.nn.hidden"),
                 bindings={"alias": "pkg.nn.ops.add"})
    ops = facts(str(pkg / "nn/ops.py"), module="pkg.nn.ops", functions=function("add"), all_names=("add",))
    hidden = facts(str(pkg / "nn/hidden.py"), module="pkg.nn.hidden", functions={**function("_secret"),
                                                                                  **function("public")})
    index = ModuleIndex([init, ops, hidden])
    assert index.resolve("pkg.nn.add") == (ops, "add")          # star import, listed in __all__
    assert index.resolve("pkg.nn.alias") == (ops, "add")        # explicit re-export
    assert index.resolve("pkg.nn.public") == (hidden, "public")  # star import without __all__: public names
    assert index.resolve("pkg.nn._secret") is None              # ... but not private ones
    assert index.resolve("pkg.nn.ops") == (ops, "")


@pytest.mark.parametrize("code, expected", [
    # integer data: nothing to lose
    ("return scatter(torch.ones_like(index), index, reduce='sum')", []),
    ("return scatter(x > 0, index, reduce='sum')", []),
    ("return torch.zeros(8, dtype=torch.long).scatter_add_(0, index, torch.arange(8))", []),
    ("return index.bincount().index_add(0, index, index.bincount())", []),
    # fp32/fp64 by construction
    ("acc = torch.zeros(8, 4, dtype=torch.float64)\n        return acc.index_add(0, index, x.to(acc.dtype))", []),
    ("with torch.autocast('cuda', enabled=False):\n"
     "            return torch.zeros(8, 4).index_add_(0, index, x.float())", []),
    # still half
    ("return torch.zeros(8, 4, dtype=x.dtype).index_add_(0, index, x)", ["PRC202"]),
    ("acc = torch.zeros(8, 4)\n        return acc.index_add_(0, index, x)", ["PRC202"]),
    ("return scatter(torch.ones_like(x), index, reduce='sum')", ["PRC201"]),
    ("return scatter(index.new_ones(index.size(0)), index, reduce='sum')", []),  # counts of the index
    ("return scatter(x.new_ones(index.size(0)), index, reduce='sum')", ["PRC201"]),
    # BCE: autocast refuses it whatever the inputs' dtype; only a disabled region runs it
    ("return F.binary_cross_entropy(x.sigmoid(), index.float())", ["PRC207"]),
    ("with torch.autocast('cuda', enabled=False):\n"
     "            return F.binary_cross_entropy(x.float(), index.float())", []),
])
def test_dtype_facts(tmp_path, code, expected):
    (tmp_path / "m.py").write_text(
        "import torch\nimport torch.nn.functional as F\nfrom torch_scatter import scatter\n"
        f"class M(torch.nn.Module):\n    def forward(self, x, index):\n        {code}\n")
    report = check([str(tmp_path / "m.py")], Config(select=("PRC2",)), jobs=1)
    assert [f.code for f in report.findings] == expected


def test_a_literal_the_caller_passes_settles_the_callee_op(tmp_path):
    (tmp_path / "pool.py").write_text(
        "from torch_scatter import scatter\n\n"
        "def reduce(x, index, reduce):\n    return scatter(x, index, reduce=reduce)\n")
    (tmp_path / "model.py").write_text(
        "import torch\nfrom pool import reduce\n\n"
        "class M(torch.nn.Module):\n    def forward(self, x, index):\n"
        "        peak = reduce(x, index, 'max')  # max accumulates nothing\n"
        "        return reduce(x, index, 'sum') + peak\n")
    report = check([str(tmp_path)], Config(select=("PRC2",)), jobs=1)
    assert [(f.path.rsplit("/", 1)[-1], f.line) for f in report.findings] == [("model.py", 7)]  # pool.py:4 judged here


def test_an_assignment_in_a_branch_keeps_what_the_name_held(tmp_path):
    (tmp_path / "m.py").write_text(
        "import torch\nfrom torch_scatter import scatter\n"
        "class M(torch.nn.Module):\n    def forward(self, x, index):\n        h = x\n"
        "        if h is None:\n            h = torch.arange(8)\n        return scatter(h, index)\n")
    report = check([str(tmp_path / "m.py")], Config(select=("PRC2",)), jobs=1)
    assert [f.line for f in report.findings] == [8]


def test_a_package_init_with_nothing_to_check_still_re_exports(tmp_path):
    # pkg/__init__.py names no op: Python's parse alone reads it, and its star import still resolves
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("from pkg.ops import *\n")
    (tmp_path / "pkg" / "ops.py").write_text(
        'import torch\n\n__all__ = ["aggregate"]\n\n\ndef aggregate(x, index, n):\n'
        "    return x.new_zeros(n, x.size(1)).index_add_(0, index, x)\n")
    (tmp_path / "model.py").write_text("import torch\n\nimport pkg\n\n\nclass Net(torch.nn.Module):\n"
                                       "    def forward(self, x, index):\n        return pkg.aggregate(x, index, 10)\n")
    report = check([str(tmp_path)], Config(select=("PRC2",)), jobs=1)
    found = [(f.path.rsplit("/", 1)[-1], f.line, f.code, f.extra.get("chain")) for f in report.findings]
    assert found == [("model.py", 8, "PRC202", ["forward", "pkg.aggregate", "Tensor.index_add_"])]


def test_python_parse_reads_the_module_names_the_libcst_walk_records():
    """advisor.scan.bindings against the walk, on every file of real trees that the walk parses."""
    import ast

    from advisor.api import Checker
    from advisor.engine import check_path
    from advisor.scan.bindings import module_bindings

    checker, compared = Checker.create(), 0
    trees = [ROOT / "tests" / "projects", ROOT / "examples", package_source("lightning") / "fabric",
             package_source("torch_geometric") / "utils"]
    for path in (p for tree in trees for p in sorted(tree.rglob("*.py"))):
        facts = check_path(path, str(path), checker.catalogue, checker.index).facts
        if facts is None or not facts.parsed:
            continue
        read = module_bindings(ast.parse(path.read_text(encoding="utf-8")), facts.module,
                               path.name == "__init__.py", checker.index.aliases)
        assert read == (facts.bindings, facts.star_imports, facts.all_names), path
        compared += 1
    assert compared > 50, compared
