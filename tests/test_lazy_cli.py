"""The command line imports only what the asked command needs (what each loads is read from
sys.modules in a fresh interpreter, after the command ran)."""
import json
import subprocess
import sys

import pytest

from conftest import ROOT

SUBCOMMAND_MODULES = ("advisor.commands.check", "advisor.commands.explain", "advisor.commands.env",
                      "advisor.validate", "advisor.api", "advisor.engine")
DEEP_MODULES = ("advisor.trace", "advisor.validate", "advisor.hardware.detect", "advisor.isolation",
                "torch", "lightning", "pytorch_lightning", "bitsandbytes")


def loaded_after(argv: list[str], cwd=ROOT) -> list[str]:
    """Every module name in sys.modules after `prec-advisor ARGV` ran in a fresh interpreter."""
    code = ("import contextlib, io, json, sys\nfrom advisor.commands.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    try:\n        main({argv!r})\n    except SystemExit:\n        pass\n"
            "print(json.dumps(sorted(sys.modules)))\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def under(modules: list[str], prefixes) -> list[str]:
    return [m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes)]


@pytest.mark.parametrize("argv", [["--version"], ["--help"], []])
def test_version_and_help_import_no_subcommand_and_no_libcst(argv):
    modules = loaded_after(argv)
    assert under(modules, SUBCOMMAND_MODULES + ("libcst",)) == []


def test_a_subcommands_help_imports_that_subcommand_only():
    modules = loaded_after(["explain", "--help"])
    assert "advisor.commands.explain" in modules
    assert under(modules, ("advisor.commands.check", "advisor.commands.env", "advisor.validate")) == []


@pytest.mark.parametrize("extra", [[], ["--gpu", "a100"], ["--fix", "--diff"], ["--format", "sarif"]])
def test_check_imports_nothing_of_trace_validate_or_detection(tmp_path, extra):
    (tmp_path / "train.py").write_text("import lightning as L\nL.Trainer(precision=16)\n")
    modules = loaded_after(["check", "train.py", "--no-cache", *extra], cwd=tmp_path)
    assert "libcst" in modules  # the command did check the file
    assert under(modules, DEEP_MODULES) == []


def test_check_loads_libcst_only_for_a_file_worth_parsing(tmp_path):
    """A Trainer named in a docstring next to `**kwargs`, and Lightning's own TrainerState, construct
    nothing: Python's parse tells, and libcst (the largest import of a check) never loads."""
    (tmp_path / "loop.py").write_text(
        '"""Run with `Trainer(precision=16)`."""\nfrom lightning.pytorch.trainer.states import TrainerState\n\n\n'
        "def run(trainer: 'Trainer', **kwargs):\n    return TrainerState(), kwargs\n")
    assert "libcst" not in loaded_after(["check", "loop.py", "--no-cache"], cwd=tmp_path)
    (tmp_path / "loop.py").write_text("import lightning as L\n\n\ndef run(**kwargs):\n    L.Trainer(**kwargs)\n")
    assert "libcst" in loaded_after(["check", "loop.py", "--no-cache"], cwd=tmp_path)
