"""`check --fix/--diff/--unsafe-fixes` and `check --trace` through the command line."""
import json
import shutil

import jsonschema

from conftest import ROOT, run_cli

EXAMPLE = ROOT / "examples" / "pointcloud.py"


def test_diff_writes_nothing_and_fix_applies_then_is_a_no_op(tmp_path):
    script = tmp_path / "pointcloud.py"
    shutil.copy(EXAMPLE, script)
    before = script.read_bytes()
    diff = run_cli("check", script.name, "--diff", cwd=tmp_path)
    assert diff.returncode == 1 and '+        precision="16-mixed",' in diff.stdout
    assert script.read_bytes() == before
    fixed = run_cli("check", script.name, "--fix", cwd=tmp_path)
    assert fixed.returncode == 1  # the op findings remain
    assert "Fixed 1 finding in 1 file" in fixed.stderr
    assert script.read_bytes() == before.replace(b"precision=16,", b'precision="16-mixed",')
    again = run_cli("check", script.name, "--diff", cwd=tmp_path)
    assert again.returncode == 0 and again.stdout == ""


def test_recommended_fix_needs_a_target_and_unsafe_fix_needs_the_flag(tmp_path):
    script = tmp_path / "pointcloud.py"
    shutil.copy(EXAMPLE, script)
    run_cli("check", script.name, "--fix", "--gpu", "a100", "--unsafe-fixes", cwd=tmp_path)
    text = script.read_text()
    assert 'precision="bf16-mixed",' in text
    assert 'with torch.autocast(device_type="cuda", enabled=False):' in text
    assert "scatter_mean(x.float(), cluster, dim=0).to(x.dtype)" in text
    compile(text, str(script), "exec")
    assert run_cli("check", script.name, "--diff", "--gpu", "a100", "--unsafe-fixes", cwd=tmp_path).stdout == ""


def test_fix_from_stdin_prints_the_fixed_text(tmp_path):
    result = run_cli("check", "-", "--fix", stdin="import lightning as L\nL.Trainer(precision='bf16')\n", cwd=tmp_path)
    assert result.stdout == "import lightning as L\nL.Trainer(precision='bf16-mixed')\n"
    assert result.returncode == 0


def test_fix_leaves_an_unparsable_file_byte_identical(tmp_path):
    (tmp_path / "bad.py").write_bytes(b"import lightning as L\nL.Trainer(precision=16\n")
    result = run_cli("check", "bad.py", "--fix", cwd=tmp_path)
    assert result.returncode == 2
    assert (tmp_path / "bad.py").read_bytes() == b"import lightning as L\nL.Trainer(precision=16\n"


def test_trace_finds_ops_in_a_helper_module_and_counts_the_model():
    result = run_cli("check", "tests/models/gnn_helper.py", "--trace", "--format", "json")
    data = json.loads(result.stdout)
    jsonschema.validate(data, json.loads((ROOT / "docs" / "check-output.schema.json").read_text()))
    assert [m["name"] for m in data["models"]] == ["HelperGNN"]
    assert data["models"][0]["mode"] == "dispatch-meta" and data["models"][0]["params"] > 0
    traced = [(f["path"], f["code"]) for f in data["findings"] if f["source"] == "trace"]
    assert ("tests/models/graph_ops.py", "PRC201") in traced
    assert "tests/models/graph_ops.py" not in {f["path"] for f in data["findings"] if f["source"] == "static"}


def test_trace_error_in_user_code_is_one_line_exit_2_with_static_findings_kept(tmp_path):
    (tmp_path / "boom.py").write_text(
        "import lightning as L\n\nclass Boom(L.LightningModule):\n    def __init__(self):\n"
        "        super().__init__()\n        raise RuntimeError('no GPU here')\n\nL.Trainer(precision=16)\n")
    result = run_cli("check", "boom.py", "--trace", cwd=tmp_path)
    assert result.returncode == 2
    assert "boom.py:8:21: PRC101" in result.stdout
    data = json.loads(run_cli("check", "boom.py", "--trace", "--format", "json", cwd=tmp_path).stdout)
    assert data["summary"]["errors"] == 1
    errors = [row for row in result.stderr.splitlines() if row.startswith("prec-advisor: error:")]
    assert len(errors) == 1 and "Boom" in errors[0] and "no GPU here" in errors[0]
    assert "Traceback" not in result.stderr


def test_fix_with_validate_applies_the_recommendation_after_a_passing_run(tmp_path):
    script = tmp_path / "regression.py"
    script.write_text((ROOT / "examples" / "regression.py").read_text()
                      .replace('accelerator="cpu", precision="bf16-mixed"', 'accelerator="gpu", precision=16'))
    result = run_cli("check", script.name, "--fix", "--validate", "--gpu", "a100", cwd=tmp_path)
    assert "regression.py: bf16-mixed passed on" in result.stderr, result.stderr
    assert 'accelerator="gpu", precision="bf16-mixed"' in script.read_text()
