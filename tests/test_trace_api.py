"""trace_script as `check --trace` uses it: isolation of user code, facts merged with the static ones."""
import subprocess
import sys
from pathlib import Path

import pytest

from advisor import engine
from advisor.catalogue import load_catalogue
from advisor.checks.project import op_findings
from advisor.config import Config
from advisor.scan.opindex import OpIndex
from advisor.trace.api import MODEL_KEYS, add_to_facts, trace_script

MODELS = Path(__file__).parent / "models"
BROKEN = str(MODELS / "broken.py")


@pytest.mark.parametrize("factory, error", [
    ("raises", "raises: cannot trace: the forward raises RuntimeError: shape mismatch in user code (at broken.py:"),
    ("exits", "exits: tracing failed: user code called sys.exit(3)"),
    ("crashes", "crashes: tracing failed: child process exited with status 9 before finishing"),
    ("missing", "missing: "),
])
def test_user_code_failures_are_one_line_errors(factory, error, capfd):
    result = trace_script(BROKEN, factory)
    (model,) = result.models  # a failed model is listed, with its error
    assert result.ops == [] and model["trace"] == "failed" and model["error"] == result.errors[0]
    (message,) = result.errors
    assert message.startswith(error) and "\n" not in message
    assert capfd.readouterr().out == ""  # the script's print went to the child's log


def test_a_hang_is_killed_at_the_timeout():
    result = trace_script(BROKEN, "hangs", timeout=15)
    assert result.errors == ["hangs: tracing failed: timed out after 15 s"]


def test_the_parent_never_imports_torch():
    code = "import sys, advisor.trace.api, advisor.trace; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parent.parent)


def test_a_finding_both_paths_make_is_reported_once(tmp_path, monkeypatch):
    """PyG's scatter written in the script: both paths find PRC201 at (path, line); it is reported once."""
    monkeypatch.chdir(MODELS)
    catalogue = load_catalogue()
    index = OpIndex.build(catalogue)
    facts = [r.facts for r in engine.run(["pyg_gcn.py"], Config(), catalogue, index)]
    traced = trace_script("pyg_gcn.py", "PooledGCN", catalogue=catalogue)
    assert list(traced.models[0]) == list(MODEL_KEYS) and traced.models[0]["path"] == "pyg_gcn.py"
    findings = op_findings(add_to_facts(facts, traced.ops), catalogue)
    keys = {(f.source, f.path, f.line, f.code) for f in findings}
    assert ("static", "pyg_gcn.py", 38, "PRC201") in keys
    assert ("trace", "pyg_gcn.py", 38, "PRC201") not in keys
    assert any(site.span.line == 38 for site in traced.ops)


def test_helper_files_get_their_own_facts_with_noqa(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ops.py").write_text("import torch\n\ndef acc(x, i):\n"
                                     "    return x.new_zeros(x.shape).index_add_(0, i, x)  # noqa: PRC202\n")
    (tmp_path / "train.py").write_text(
        "import torch\nfrom ops import acc\n\nclass Net(torch.nn.Module):\n"
        "    def forward(self, x, i):\n        return acc(x, i)\n")
    traced = trace_script("train.py", "Net")
    (site,) = traced.ops
    merged = add_to_facts([], traced.ops)
    assert [(f.path, f.noqa, len(f.ops)) for f in merged] == [("ops.py", {4: frozenset({"PRC202"})}, 1)]
    assert (site.path, site.span.line, site.op, site.function) == ("ops.py", 4, "Tensor.index_add_", "acc")


def test_adding_traced_sites_leaves_the_static_facts_unchanged():
    from advisor.facts import FileFacts, OpSite, Span

    static = FileFacts(path="train.py", noqa={3: None})
    site = OpSite("Tensor.scatter_add_", "train.py", Span(3, 1, 3, 9), "method", source="trace")
    (merged,) = add_to_facts([static], [site])
    assert static.ops == [] and merged.ops == [site] and merged.noqa == {3: None}
