"""The flake8 plugin, run by the real flake8: same findings and columns as `prec-advisor check`."""
import ast
import json
import subprocess
import sys

import pytest

from advisor.integrations.flake8 import Plugin

from conftest import run_cli

SOURCE = '''\
"""Docs that mention precision and scatter_add_ do not matter."""
import lightning as L
import torch

trainer = L.Trainer(accelerator="gpu", precision=16)
other = L.Trainer(precision="fp16")
scaler = torch.cuda.amp.GradScaler()


class Net(torch.nn.Module):
    def forward(self, x, idx):
        return torch.zeros_like(x).scatter_add_(0, idx, x)
'''


def flake8(folder, *args):
    result = subprocess.run([sys.executable, "-m", "flake8", "--isolated", *args, "."], cwd=folder,
                            capture_output=True, text=True, timeout=120)
    lines = [line.split(":", 3) for line in result.stdout.splitlines()]
    return result.returncode, [(int(row), int(col), rest.split()[0]) for _, row, col, rest in lines]


def cli_findings(path):
    result = run_cli("check", "--format", "json", path)
    return [(f["line"], f["column"], f["code"]) for f in json.loads(result.stdout)["findings"]]


@pytest.fixture
def project(tmp_path):
    (tmp_path / "train.py").write_text(SOURCE)
    return tmp_path


def test_plugin_is_registered():
    out = subprocess.run([sys.executable, "-m", "flake8", "--version"], capture_output=True, text=True).stdout
    assert "prec-advisor" in out


def test_same_findings_and_columns_as_the_cli(project):
    code, found = flake8(project, "--select", "PRC")
    expected = cli_findings(project / "train.py")
    assert code == 1 and found == expected
    assert {c for _, _, c in found} >= {"PRC101", "PRC103", "PRC201"}


def test_default_selection_and_messages(project):
    result = subprocess.run([sys.executable, "-m", "flake8", "--isolated", "train.py"], cwd=project,
                            capture_output=True, text=True)
    assert "train.py:5:50: PRC101 `precision=16` is a legacy alias" in result.stdout


@pytest.mark.parametrize("args, codes", [
    (("--select", "PRC2"), {"PRC201"}),
    (("--select", "PRC", "--ignore", "PRC1,PRC4"), {"PRC201"}),
    (("--select", "PRC", "--extend-ignore", "PRC103,PRC4"), {"PRC101", "PRC201"}),
    (("--select", "E9"), set()),
])
def test_flake8_selection(project, args, codes):
    _, found = flake8(project, *args)
    assert {c for _, _, c in found} == codes


def test_noqa(project):
    text = SOURCE.replace("precision=16)", "precision=16)  # noqa: PRC101").replace(
        'precision="fp16")', 'precision="fp16")  # noqa').replace("GradScaler()", "GradScaler()  # noqa: PRC401")
    (project / "train.py").write_text(text)
    _, found = flake8(project, "--select", "PRC")
    assert [c for _, _, c in found] == ["PRC201"]


# What only the spelling of a literal triggers (`1e5`, `100000)`), beside prose that mentions ops.
LITERALS = '''\
import torch
from torch import nn


class Net(nn.Module):
    """Masks with 1e5 (a docstring: no finding); see `scatter_add_`."""

    def forward(self, x, m):  # scatter_add_ is not called here
        s = "# not a comment"; y = x.masked_fill(m, {value})
        return y
'''


@pytest.mark.parametrize("value", ["-1e5", "100000", "-65536.0 - 1"])
def test_literals_spelled_in_code_are_seen_as_the_cli_sees_them(tmp_path, value):
    (tmp_path / "net.py").write_text(LITERALS.format(value=value))
    code, found = flake8(tmp_path, "--select", "PRC")
    expected = cli_findings(tmp_path / "net.py")
    assert found == expected and code == (1 if expected else 0)
    assert [c for _, _, c in found] == (["PRC210"] if value != "-65536.0 - 1" else [])


def test_clean_and_docstring_only_files(tmp_path):
    (tmp_path / "clean.py").write_text('"""Uses mixed precision via scatter_add_ (docs only)."""\n'
                                       "# precision=16\nx = 1\n")
    assert flake8(tmp_path, "--select", "PRC") == (0, [])


def test_libcst_runs_only_when_the_parsed_code_holds_a_trigger():
    # the lines mention precision only in a docstring and would not even parse: flake8's tree says there is
    # nothing to check, so the plugin never hands the text to libcst (which would report PRC001)
    lines = ['"""precision"""\n', "def broken(:\n"]
    assert list(Plugin(ast.parse("x = 1"), "a.py", lines).run()) == []
    tree = ast.parse("import lightning as L\nL.Trainer(precision=16)\n")
    [(line, col, message, _)] = Plugin(tree, "a.py", ["import lightning as L\n", "L.Trainer(precision=16)\n"]).run()
    assert (line, col, message.split()[0]) == (2, 20, "PRC101")


def test_a_bad_configuration_is_reported_not_a_crash(project):
    (project / "pyproject.toml").write_text('[tool.prec-advisor]\ntarget-gpu = "no-such-gpu"\n')
    result = subprocess.run([sys.executable, "-m", "flake8", "--select", "PRC", "train.py"], cwd=project,
                            capture_output=True, text=True)
    assert result.returncode == 1 and "train.py:1:1: PRC001 prec-advisor configuration:" in result.stdout


def test_target_gpu_from_pyproject_is_honoured(project):
    (project / "pyproject.toml").write_text('[tool.prec-advisor]\ntarget-gpu = "a100"\n')
    (project / "train.py").write_text('import lightning as L\n'
                                      'trainer = L.Trainer(accelerator="gpu", precision="16-mixed")\n')
    _, found = flake8(project, "--select", "PRC")
    assert found == cli_findings(project / "train.py") and ("PRC120" in {c for _, _, c in found})
