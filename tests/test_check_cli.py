"""`prec-advisor check` through its command line: formats, exit codes, config, suppression, bad input."""
import json
import os
import sys

import jsonschema
import pytest

from conftest import ROOT, run_cli

SCHEMA = json.loads((ROOT / "docs" / "check-output.schema.json").read_text())
LEGACY = "import lightning as L\ntrainer = L.Trainer(precision=16)\n"


@pytest.fixture
def project(tmp_path):
    (tmp_path / "train.py").write_text(LEGACY)
    (tmp_path / "clean.py").write_text("import lightning as L\nL.Trainer(precision=\"bf16-mixed\")\n")
    return tmp_path


def test_text_output_is_clickable_and_exits_1(project):
    result = run_cli("check", "train.py", cwd=project)
    assert result.returncode == 1
    assert result.stdout.splitlines()[0].startswith("train.py:2:31: PRC101 [*] `precision=16` is a legacy alias")


def test_clean_file_exits_0(project):
    result = run_cli("check", "clean.py", cwd=project)
    assert result.returncode == 0, result.stdout
    assert "All checks passed" in result.stdout


def test_json_output_matches_the_schema(project):
    result = run_cli("check", ".", "--format", "json", cwd=project)
    data = json.loads(result.stdout)
    jsonschema.validate(data, SCHEMA)
    assert data["version"] == 1 and data["recommendation"] is None
    finding = data["findings"][0]
    where = (finding["code"], finding["rule"], finding["line"], finding["column"])
    assert where == ("PRC101", "legacy-precision-alias", 2, 31)
    assert finding["fix"]["applicability"] == "safe"
    assert finding["fix"]["edits"][0]["content"] == '"16-mixed"'
    assert {s["path"] for s in data["settings"]} == {"train.py", "clean.py"}
    assert data["summary"]["files"] == 2


def test_sarif_carries_rule_metadata(project):
    data = json.loads(run_cli("check", "train.py", "--format", "sarif", cwd=project).stdout)
    run = data["runs"][0]
    assert data["version"] == "2.1.0"
    rule_ids = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    assert "PRC201" in rule_ids and run["results"][0]["ruleId"] == "PRC101"
    assert run["results"][0]["ruleIndex"] == rule_ids.index("PRC101")
    assert run["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 2


def test_json_with_a_target_fixes_and_a_recommendation_matches_the_schema():
    data = json.loads(run_cli("check", "examples", "--gpu", "a100", "--format", "json").stdout)
    jsonschema.validate(data, SCHEMA)
    assert data["recommendation"]["precision"] and data["settings"]
    assert {f["fix"]["applicability"] for f in data["findings"] if f["fix"]} == {"safe", "recommended", "unsafe"}


def test_github_annotations(project):
    out = run_cli("check", "train.py", "--format", "github", cwd=project).stdout
    assert out.startswith("::warning title=prec-advisor (PRC101),file=train.py,line=2,col=31,")


def test_noqa_with_code_and_bare(project):
    (project / "train.py").write_text("import lightning as L\nL.Trainer(precision=16)  # noqa: PRC101\n"
                                      "L.Trainer(precision=16)  # noqa\nL.Trainer(precision=16)  # noqa: PRC2\n")
    data = json.loads(run_cli("check", "train.py", "--format", "json", cwd=project).stdout)
    assert [f["line"] for f in data["findings"]] == [4]


def test_noqa_on_the_closing_line_of_a_multiline_call(project):
    (project / "train.py").write_text("import lightning as L\nL.Trainer(\n    precision=16,\n)  # noqa: PRC101\n")
    assert run_cli("check", "train.py", cwd=project).returncode == 0


def test_closing_line_noqa_silences_setting_and_hardware_rules_alike(project):
    trainer = "import lightning as L\nL.Trainer(\n    precision=16,\n)  # noqa: PRC101, PRC120\n"
    (project / "train.py").write_text(trainer)
    result = run_cli("check", "train.py", "--gpu", "a100", "--format", "json", cwd=project)
    assert json.loads(result.stdout)["findings"] == [] and result.returncode == 0
    (project / "train.py").write_text("import lightning as L\nL.Trainer(\n    precision=16,\n)  # noqa: PRC101\n")
    result = run_cli("check", "train.py", "--gpu", "a100", "--format", "json", cwd=project)
    assert [f["code"] for f in json.loads(result.stdout)["findings"]] == ["PRC120"]


def test_select_ignore_and_prefixes(project):
    assert run_cli("check", "train.py", "--ignore", "PRC1", cwd=project).returncode == 0
    assert run_cli("check", "train.py", "--select", "PRC2", cwd=project).returncode == 0
    assert run_cli("check", "train.py", "--select", "PRC1", "--ignore", "PRC101", cwd=project).returncode == 0
    assert run_cli("check", "train.py", "--select", "PRC2", "--extend-select", "PRC101", cwd=project).returncode == 1


def test_exit_zero_and_quiet_and_statistics(project):
    result = run_cli("check", "train.py", "--exit-zero", "--statistics", "-q", cwd=project)
    assert result.returncode == 0
    assert "    1  PRC101  legacy-precision-alias" in result.stdout
    assert "Found" not in result.stdout


def test_show_source_points_at_the_value(project):
    out = run_cli("check", "train.py", "--show-source", cwd=project).stdout
    assert "   2 | trainer = L.Trainer(precision=16)" in out
    assert "       |                               ^^" in out
    assert "= fix (safe): Replace with \"16-mixed\"" in out


def test_stdin_with_filename(project):
    result = run_cli("check", "-", "--stdin-filename", "piped.py", stdin=LEGACY, cwd=project)
    assert result.stdout.startswith("piped.py:2:31: PRC101")


def test_pyproject_config_select_and_per_file_ignores(project):
    (project / "pyproject.toml").write_text('[tool.prec-advisor]\nper-file-ignores = {"train.py" = ["PRC101"]}\n')
    assert run_cli("check", ".", cwd=project).returncode == 0
    (project / "pyproject.toml").write_text('[tool.prec-advisor]\nignore = ["PRC1"]\n')
    assert run_cli("check", ".", cwd=project).returncode == 0


@pytest.mark.parametrize("body, key", [
    ('selekt = ["PRC1"]', "selekt"),
    ('select = "PRC1"', "select"),
    ('fail-level = "loud"', "fail-level"),
    ("memory-headroom = 1.5", "memory-headroom"),
    ('task = "serve"', "task"),
])
def test_bad_config_is_exit_2_naming_the_key(project, body, key):
    (project / "pyproject.toml").write_text(f"[tool.prec-advisor]\n{body}\n")
    result = run_cli("check", ".", cwd=project)
    assert result.returncode == 2
    assert f"`{key}`" in result.stderr and "Traceback" not in result.stderr


def test_memory_headroom_and_task_reach_the_recommendation(project):
    (project / "pyproject.toml").write_text('[tool.prec-advisor]\nmemory-headroom = 0.35\n')
    data = json.loads(run_cli("check", "train.py", "--gpu", "a100", "--format", "json", cwd=project).stdout)
    assert data["recommendation"]["memory"]["headroom"] == 0.35
    from advisor.api import check_text
    from advisor.config import Config
    from advisor.facts import ModelCensus
    from advisor.hardware.table import lookup
    adapters = ModelCensus("m", 20_000_000_000, 10_000_000, 19_000_000_000)  # too big for 16 bit on one A100
    modes = {task: check_text(LEGACY, "train.py", Config(task=task), target=lookup("a100"), census=adapters)
             .recommendation.plugin.mode for task in ("train", "inference")}
    assert modes == {"train": "nf4", "inference": "int8"}


def test_extra_rule_file_adds_a_custom_op(project):
    (project / "my_rules.toml").write_text('''
[[rule]]
code = "PRC901"
name = "my-fused-scatter"
severity = "warning"
summary = "Reports our own fused scatter kernel."
message = "`{op}` {context} has no half-precision kernel"
rationale = "Our CUDA extension only ships fp32 kernels."
valid = ["import torch\\n"]
invalid = ["""import mylib\\nclass M(torch.nn.Module):\\n    def forward(self, x):\\n        return mylib.\\
           fused_scatter(x)\\n"""]
  [[rule.patterns]]
  function = "mylib.fused_scatter"
''')
    (project / "pyproject.toml").write_text('[tool.prec-advisor]\nextra-rules = ["my_rules.toml"]\n')
    (project / "model.py").write_text("import torch\nimport mylib\nclass M(torch.nn.Module):\n"
                                      "    def forward(self, x):\n        return mylib.fused_scatter(x)\n")
    result = run_cli("check", "model.py", cwd=project)
    assert "model.py:5:16: PRC901 `mylib.fused_scatter` in forward has no half-precision kernel" in result.stdout


def test_default_excludes_and_extend_exclude(project):
    for folder in (".venv/lib", "build", "node_modules"):
        (project / folder).mkdir(parents=True)
        (project / folder / "x.py").write_text(LEGACY)
    (project / "gen").mkdir()
    (project / "gen" / "g.py").write_text(LEGACY)
    data = json.loads(run_cli("check", ".", "--format", "json", "--extend-exclude", "gen", cwd=project).stdout)
    assert {f["path"] for f in data["findings"]} == {"train.py"}


BAD_INPUTS = {
    "syntax.py": (b"def broken(:\n    pass\n", 1, "cannot parse"),
    "nul.py": (b"x = 1\ny = 2\x00\n", 2, "NUL bytes"),
    "latin1.py": (b"x = 1\ns = '\xe9t\xe9'\n", 2, "cannot decode as utf-8"),
    "binary.py": (bytes(range(256)) * 4, 1, "NUL bytes"),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_is_one_line_exit_2_and_others_still_checked(project, name):
    data, line, words = BAD_INPUTS[name]
    (project / name).write_bytes(data)
    result = run_cli("check", name, "train.py", cwd=project)
    assert result.returncode == 2
    assert "Traceback" not in result.stdout + result.stderr
    error = [row for row in result.stdout.splitlines() if row.startswith(f"{name}:")]
    assert len(error) == 1 and error[0].startswith(f"{name}:{line}:1: PRC001") and words in error[0]
    assert "train.py:2:31: PRC101" in result.stdout


def test_coding_cookie_and_bom_are_honoured(project):
    (project / "cookie.py").write_bytes(b"# -*- coding: latin-1 -*-\nimport lightning as L\n"
                                        b"s = '\xe9'\nL.Trainer(precision=16)\n")
    (project / "bom.py").write_bytes(b"\xef\xbb\xbfimport lightning as L\nL.Trainer(precision=16)\n")
    result = run_cli("check", "cookie.py", "bom.py", cwd=project)
    assert "cookie.py:4:21: PRC101" in result.stdout and "bom.py:2:21: PRC101" in result.stdout
    assert result.returncode == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_unreadable_file(project):
    (project / "secret.py").write_text(LEGACY)
    (project / "secret.py").chmod(0)
    result = run_cli("check", "secret.py", cwd=project)
    assert result.returncode == 2 and "secret.py:1:1: PRC001 cannot read" in result.stdout


def test_json_errors_also_reach_stderr_as_one_line(project):
    (project / "syntax.py").write_bytes(b"def broken(:\n")
    result = run_cli("check", "syntax.py", "--format", "json", cwd=project)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("syntax.py:1: error: cannot parse")
    assert json.loads(result.stdout)["findings"][0]["code"] == "PRC001"


def test_unknown_option_is_exit_2_without_traceback(project):
    result = run_cli("check", "--frobnicate", cwd=project)
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_version_and_explain(cli):
    assert cli("--version").stdout.startswith("prec-advisor ")
    page = cli("explain", "PRC201").stdout
    assert page.startswith("# scatter-accumulates-in-half (PRC201)")
    for section in ("## What it does", "## Why is this bad?", "## Example", "## Fix safety", "## References"):
        assert section in page
    assert cli("explain", "scatter-accumulates-in-half").stdout == page
    assert cli("explain", "PRC999").returncode == 2


def test_static_path_never_imports_torch(project):
    code = ("import sys\nfrom advisor.commands.cli import main\n"
            "try:\n    main(['check', 'train.py', '-q'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('torch', 'lightning', 'bitsandbytes', 'pytorch_lightning') if m in sys.modules]\n"
            "print('HEAVY', heavy)\n")
    import subprocess
    result = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True, text=True)
    assert "HEAVY []" in result.stdout, result.stdout + result.stderr


def test_generated_rule_docs_are_up_to_date():
    from advisor.catalogue import load_catalogue
    from advisor.commands.explain import rules_markdown
    assert (ROOT / "docs" / "rules.md").read_text() == rules_markdown(load_catalogue()), \
        "docs/rules.md is stale: run `python -m advisor.commands.explain --markdown > docs/rules.md`"


def test_summary_counts_recommended_fixes_only_as_applicable_with_a_target(cli):
    example = ROOT / "examples" / "pointcloud.py"
    assert "Found 5 findings in 1 file; 1 fixable with --fix, 1 with --unsafe-fixes." in cli("check", example).stdout
    with_target = cli("check", example, "--gpu", "a100").stdout
    assert "Found 6 findings in 1 file; 2 fixable with --fix, 1 with --unsafe-fixes." in with_target
    assert 'Recommendation: precision="bf16-mixed"' in with_target
