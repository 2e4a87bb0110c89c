"""Where FP32-required ops really run, on whole files in the style of real projects."""
from advisor.api import check, check_text
from advisor.config import Config

from conftest import ROOT

PROJECTS = ROOT / "tests" / "projects"


def findings(*paths):
    report = check([str(p) for p in paths], Config(select=("PRC2",)), jobs=1)
    return [(f.path.split("tests/projects/")[-1], f.line, f.code, f.severity) for f in report.findings], report


def test_point_cloud_example():
    found, _ = findings(ROOT / "examples" / "pointcloud.py")
    where = [(line, code) for _, line, code, _ in found]
    # interpolate's clamp and index_add_ work on what forward passes: reported at that call (36)
    assert where == [(21, "PRC201"), (36, "PRC202"), (36, "PRC211"), (37, "PRC201")]
    assert {severity for *_, severity in found} == {"warning"}


def test_signal_model_reports_forward_and_step_but_not_data_backward_fp32_region_or_integers():
    found, _ = findings(PROJECTS / "signal" / "model.py")
    assert found == [
        ("signal/model.py", 29, "PRC204", "error"),    # fft in forward
        ("signal/model.py", 30, "PRC203", "error"),    # linalg.solve in forward
        ("signal/model.py", 38, "PRC207", "error"),    # BCE in a training step
        ("signal/model.py", 42, "PRC202", "info"),     # helper nobody in this file calls: lower severity
    ]


def test_gnn_across_files_true_half_makes_errors_and_names_the_chain():
    found, report = findings(PROJECTS / "gnn")
    assert found == [
        ("gnn/model.py", 15, "PRC201", "error"),       # MessagePassing.propagate in a subclass
        ("gnn/model.py", 18, "PRC201", "error"),       # PyG softmax, reached from forward through propagate's message
        ("gnn/model.py", 28, "PRC201", "error"),       # call site of a project helper that scatters
        ("gnn/model.py", 29, "PRC201", "error"),       # global_mean_pool
    ]
    chain = next(f for f in report.findings if f.line == 28)
    assert chain.extra["chain"] == ["forward", "degree_norm", "scatter_sum", "Tensor.scatter_add_"]
    assert "through `forward` -> `degree_norm` -> `scatter_sum` -> `Tensor.scatter_add_`" in chain.message


def test_helper_file_alone_is_reported_at_lower_severity():
    found, _ = findings(PROJECTS / "gnn" / "mylib" / "ops.py")
    assert found == [("gnn/mylib/ops.py", 11, "PRC201", "info")]  # scatter_sum's op, at its one caller


def test_fp16_only_rules_stay_quiet_when_every_setting_is_bf16(tmp_path):
    (tmp_path / "m.py").write_text(
        "import lightning as L\nimport torch\n"
        "class M(L.LightningModule):\n    def forward(self, s, m):\n        return s.masked_fill(m, -1e9) + 1e-8\n"
        "L.Trainer(precision='bf16-mixed')\n")
    assert findings(tmp_path / "m.py")[0] == []
    (tmp_path / "m.py").write_text((tmp_path / "m.py").read_text().replace("bf16-mixed", "16-mixed"))
    assert [code for *_, code, _ in findings(tmp_path / "m.py")[0]] == ["PRC210", "PRC211"]


def test_a_fill_value_too_large_for_a_float_is_judged_not_an_internal_error():
    text = ("import torch\nclass Attn(torch.nn.Module):\n    def forward(self, s, m):\n"
            f"        return s.masked_fill(m, -1{'0' * 400})\n")
    report = check_text(text, "attn.py")
    assert [(f.line, f.code) for f in report.findings] == [(4, "PRC210")]
