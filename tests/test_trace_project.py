"""`check --trace` on a small real project: PyG layers, a helper module with an FP32 region,
a `configure_model()` model, a library installed in a folder on PYTHONPATH, several files named.

Every traced finding must point into the project, at the user's own line.
"""
import json
import os
import textwrap
from pathlib import Path

import pytest

from conftest import ROOT, run_cli

TRAIN = '''
import lightning as L
import torch
from torch_geometric.nn import GATConv, GCNConv, MessagePassing, global_add_pool

import acclib
from helpers import guarded_sum, plain_sum


class SumNeighbours(MessagePassing):
    """A custom MessagePassing layer: sums its neighbours' features."""

    def __init__(self, channels):
        super().__init__(aggr="add")
        self.lin = torch.nn.Linear(channels, channels)

    def forward(self, x, edge_index):
        return self.propagate(edge_index, x=self.lin(x))

    def message(self, x_j):
        return x_j


def graph():
    return torch.randn(10, 16), torch.randint(0, 10, (2, 30)), torch.tensor([0] * 5 + [1] * 5)


class GNN(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.normed = GCNConv(16, 32)
        self.raw = GCNConv(32, 32, normalize=False)
        self.att = GATConv(32, 32)
        self.sum = SumNeighbours(32)
        self.head = torch.nn.Linear(32, 2)
        self.example_input_array = graph()

    def forward(self, x, edge_index, batch):
        h = self.normed(x, edge_index).relu()
        h = self.raw(h, edge_index).relu()
        h = self.att(h, edge_index)
        h = self.sum(h, edge_index)
        source, index = h[edge_index[0]], edge_index[1]
        a = guarded_sum(source, index, 10)
        b = plain_sum(source, index, 10)
        c = acclib.accumulate(self.head(source), index, 10)
        return global_add_pool(a + b, batch), c


class Big(L.LightningModule):
    """Lightning's big-model pattern: the layers are built in configure_model()."""

    def __init__(self):
        super().__init__()
        self.layers = None
        self.example_input_array = torch.randn(4, 64)

    def configure_model(self):
        if self.layers is None:
            self.layers = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.Linear(256, 8))

    def forward(self, x):
        return self.layers(x).softmax(-1)


if __name__ == "__main__":
    L.Trainer(precision="bf16-mixed").fit(GNN())
'''

HELPERS = '''
import torch


def guarded_sum(h, index, n):
    with torch.autocast("cuda", enabled=False):
        return torch.zeros(n, h.shape[1]).index_add_(0, index, h.float())


def plain_sum(h, index, n):
    return torch.zeros(n, h.shape[1], dtype=h.dtype).index_add_(0, index, h)
'''

LIBRARY = '''
import torch


def accumulate(x, index, n):
    """A library's accumulation, installed outside the project."""
    return x.new_zeros((n, x.shape[1])).index_add_(0, index, x)
'''

PLAIN = '''
import torch


class Encoder(torch.nn.Module):
    """A plain nn.Module: not a model to trace on its own."""

    def forward(self, x):
        return x
'''


def _line(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(textwrap.dedent(text).splitlines(), 1) if needle in line)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """proj/ holds the user's files; site/ a library, as `pip install --target site` lays it out."""
    base = tmp_path_factory.mktemp("traced")
    proj, site = base / "proj", base / "site"
    (site / "acclib").mkdir(parents=True)
    (site / "acclib" / "__init__.py").write_text(LIBRARY)
    (site / "acclib-1.0.dist-info").mkdir()
    (site / "acclib-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: acclib\nVersion: 1.0\n")
    proj.mkdir()
    for name, text in {"train.py": TRAIN, "helpers.py": HELPERS, "plain.py": PLAIN}.items():
        (proj / name).write_text(textwrap.dedent(text))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(site)]))
    run = lambda *args: run_cli("check", *args, cwd=proj, env=env)  # noqa: E731
    json_run = run("train.py", "helpers.py", "plain.py", "--trace", "--format", "json")
    text_run = run("train.py", "helpers.py", "plain.py", "--trace", "--select", "PRC2")
    return proj, json_run, text_run


def test_traced_findings_point_at_the_users_lines_only(project):
    proj, result, _ = project
    assert result.returncode == 1, result.stderr
    data = json.loads(result.stdout)
    traced = [f for f in data["findings"] if f["source"] == "trace"]
    assert traced and all(not Path(f["path"]).is_absolute() and (proj / f["path"]).is_file() for f in data["findings"])
    assert {f["path"] for f in data["findings"]} <= {"train.py", "helpers.py"}
    lines = {(f["path"], f["line"]) for f in data["findings"] if f["code"].startswith("PRC2")}
    assert ("train.py", _line(TRAIN, "self.raw(h, edge_index)")) in lines  # GCNConv(normalize=False): bf16 sums
    assert ("train.py", _line(TRAIN, "acclib.accumulate(")) in lines  # the library op, at the user's call
    assert ("helpers.py", _line(HELPERS, "dtype=h.dtype).index_add_")) in lines
    # GCNConv's default normalization multiplies by fp32 edge weights: its sums really run in fp32
    assert ("train.py", _line(TRAIN, "self.normed(x, edge_index)")) not in lines
    fp32_region = ("helpers.py", _line(HELPERS, "h.float())"))  # autocast off, fp32 inputs: what ran is fp32
    assert fp32_region not in {(f["path"], f["line"]) for f in traced}


def test_the_chain_names_the_library_path_and_the_dtype_was_observed(project):
    _, result, _ = project
    findings = json.loads(result.stdout)["findings"]
    library = next(f for f in findings if f["line"] == _line(TRAIN, "acclib.accumulate(") and f["path"] == "train.py")
    assert library["source"] == "trace" and library["chain"] == ["accumulate", "aten.index_add_"]
    assert "observed running in bfloat16" in library["message"]
    raw = next(f for f in findings if f["line"] == _line(TRAIN, "self.raw(h, edge_index)"))
    assert raw["chain"][:2] == ["GCNConv.forward", "GCNConv.propagate"] and raw["chain"][-1] == "aten.scatter_add_"


def test_each_traced_model_is_listed(project):
    _, result, text = project
    models = {m["name"]: m for m in json.loads(result.stdout)["models"]}
    assert set(models) == {"GNN", "Big"}  # plain.py's Encoder is no LightningModule; helpers.py has no class
    assert models["GNN"]["mode"] == "dispatch-cpu" and models["GNN"]["precision"] == "bf16-mixed"
    assert models["Big"]["params"] == 64 * 256 + 256 + 256 * 8 + 8  # built in configure_model(), on meta
    assert models["Big"]["mode"] == "dispatch-meta" and models["Big"]["error"] is None
    gnn_line = _line(TRAIN, "class GNN(")
    assert f"Traced GNN (train.py:{gnn_line}): dispatch-cpu under bf16-mixed, " in text.stdout
    assert "Traced Big (train.py:" in text.stdout and "18,696 parameters (18,696 trainable)" in text.stdout


def test_no_model_among_the_files_is_one_error(tmp_path):
    (tmp_path / "helpers.py").write_text(textwrap.dedent(HELPERS))
    (tmp_path / "plain.py").write_text(textwrap.dedent(PLAIN))
    result = run_cli("check", "helpers.py", "plain.py", "--trace", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "prec-advisor: error: plain.py: no LightningModule subclass defined here; name one with --model path.py:Name"]


def test_a_failed_trace_is_listed_and_never_all_checks_passed(tmp_path):
    (tmp_path / "model.py").write_text(textwrap.dedent('''
        import lightning as L
        import torch


        class Broken(L.LightningModule):
            def __init__(self):
                super().__init__()
                self.example_input_array = torch.zeros(2)

            def forward(self, x):
                raise RuntimeError("shape mismatch")
    '''))
    text = run_cli("check", "model.py", "--trace", cwd=tmp_path)
    assert text.returncode == 2 and "All checks passed" not in text.stdout
    assert "Traced Broken (model.py:6): failed: Broken: cannot trace: the forward raises RuntimeError" in text.stdout
    data = json.loads(run_cli("check", "model.py", "--trace", "--format", "json", cwd=tmp_path).stdout)
    (model,) = data["models"]
    assert model["trace"] == "failed" and "shape mismatch (at model.py:12)" in model["error"]
    assert data["summary"]["errors"] == 1
