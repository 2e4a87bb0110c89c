"""What `--fix` may apply without the user reading it, through the command line: fixes proven
to keep behaviour (issue 13), held to the project's declared versions, YAML only where
Lightning is proven, PRC406/PRC408 only where they apply, and bad input under --fix/--diff."""
import pytest

from conftest import run_cli

LITGPT = '''\
import lightning as L
from lightning.fabric.plugins import BitsandbytesPrecision


def setup(quantize=None, precision=None):
    plugins = None
    if quantize:
        plugins = BitsandbytesPrecision(quantize)
        precision = None
    return L.Fabric(precision=precision, plugins=plugins)


def literal(quantize=None):
    plugins = None
    if quantize:
        plugins = BitsandbytesPrecision(quantize)
    return L.Fabric(precision="bf16-true", plugins=plugins)
'''


def check(folder, *args):
    return run_cli("check", *args, cwd=folder)


def test_a_plugin_chosen_at_run_time_is_no_safe_fix(tmp_path):
    (tmp_path / "litgpt.py").write_text(LITGPT)
    result = check(tmp_path, "litgpt.py", "--fix")
    assert (tmp_path / "litgpt.py").read_text() == LITGPT  # nothing applied: a plain run stays bf16-true
    conflicts = [line for line in result.stdout.splitlines() if " PRC104 " in line]
    assert len(conflicts) == 1 and conflicts[0].startswith("litgpt.py:17:")  # the literal one
    assert "[*]" not in conflicts[0]  # ... without a fix


def test_a_trainer_subclass_with_its_own_init_gets_only_an_unsafe_fix(tmp_path):
    source = ("import lightning as L\n\n\nclass Mine(L.Trainer):\n    def __init__(self, precision=16, **kw):\n"
              "        super().__init__(precision=\"32-true\", **kw)\n\n\nMine(precision=16)\n")
    (tmp_path / "t.py").write_text(source)
    result = check(tmp_path, "t.py", "--fix")
    assert (tmp_path / "t.py").read_text() == source and "[*unsafe] `precision=16`" in result.stdout
    assert "defines its own __init__" in check(tmp_path, "t.py", "--format", "json").stdout


def test_a_local_def_shadowing_the_import_is_not_a_trainer(tmp_path):
    (tmp_path / "t.py").write_text("from lightning import Trainer\n\n\ndef Trainer(**kw):\n    return kw\n\n\n"
                                   "Trainer(precision=16)\n")
    assert check(tmp_path, "t.py").returncode == 0


OLD_PROJECT = ("import torch\nimport pytorch_lightning as pl\nscaler = torch.cuda.amp.GradScaler()\n"
               "with torch.cuda.amp.autocast():\n    pass\n"
               "trainer = pl.Trainer(precision=16, amp_backend=\"native\")\n")


@pytest.mark.parametrize("declaration", [
    ("requirements.txt", "pytorch-lightning>=1.6,<2.0\ntorch>=1.8\n"),
    ("pyproject.toml", "[project]\nname = 'x'\ndependencies = ['torch>=1.8']\n"
                       "[project.optional-dependencies]\ntrain = ['pytorch_lightning~=1.9']\n"),
    ("setup.py", "from setuptools import setup\n"
                 "setup(name='x', install_requires=['torch==1.8.1', 'pytorch-lightning<2'])\n"),
    ("setup.cfg", "[options]\ninstall_requires =\n    torch>=1.8\n    pytorch-lightning>=1.5,<2\n"),
    ("environment.yml", "dependencies:\n  - pytorch=1.8.1\n  - pip:\n    - pytorch-lightning==1.9.5\n"),
], ids=lambda d: d[0])
def test_fixes_stay_valid_for_the_oldest_declared_versions(tmp_path, declaration):
    name, text = declaration
    (tmp_path / name).write_text(text)
    (tmp_path / "train.py").write_text(OLD_PROJECT)
    result = check(tmp_path, "train.py", "--fix")
    assert (tmp_path / "train.py").read_text() == OLD_PROJECT
    assert "`torch.amp.GradScaler` needs torch >= 2.3" in result.stdout
    assert "`torch.autocast` needs torch >= 1.10" in result.stdout
    assert "a 2.x precision value needs Lightning >= 2.0" in result.stdout  # no "16-mixed" for Lightning 1.x
    assert "removing a 1.x argument needs Lightning >= 2.0" in result.stdout  # amp_backend is valid on 1.x


def test_target_versions_in_the_config_override_the_declarations(tmp_path):
    (tmp_path / "requirements.txt").write_text("pytorch-lightning>=1.6,<2.0\ntorch>=1.8\n")
    config = '[tool.prec-advisor]\ntarget-versions = { torch = "2.4", lightning = "2.1" }\n'
    (tmp_path / "pyproject.toml").write_text(config)
    (tmp_path / "train.py").write_text(OLD_PROJECT)
    check(tmp_path, "train.py", "--fix")
    fixed = (tmp_path / "train.py").read_text()
    assert 'torch.amp.GradScaler("cuda")' in fixed and 'precision="16-mixed"' in fixed and "amp_backend" not in fixed
    (tmp_path / "pyproject.toml").write_text('[tool.prec-advisor]\ntarget-versions = { torch = "new" }\n')
    bad = check(tmp_path, "train.py")
    assert bad.returncode == 2 and "target-versions" in bad.stderr


def test_a_version_guarded_fallback_is_left_alone(tmp_path):
    (tmp_path / "amp.py").write_text('import torch\nif hasattr(torch.amp, "GradScaler"):\n'
                                     '    scaler = torch.amp.GradScaler("cuda")\nelse:\n'
                                     '    scaler = torch.cuda.amp.GradScaler()\n')
    assert check(tmp_path, "amp.py").returncode == 0


@pytest.mark.parametrize("path, text, fixed", [
    ("cli.yaml", "trainer:\n  precision: 16\nmodel:\n  class_path: my.Model\n", True),
    ("conf/trainer/default.yaml", "_target_: lightning.pytorch.Trainer\nprecision: 16\n", True),
    ("hydra.yaml", "trainer:\n  _target_: pytorch_lightning.Trainer\n  precision: 16\n", True),
    ("bare.yaml", "trainer:\n  precision: 16\n", False),
    ("conf/trainer/other.yaml", "precision: 16\n", False),
    ("hf.yaml", "trainer:\n  _target_: transformers.Trainer\n  precision: 16\n", None),
    ("any.yaml", "trainer:\n  _target_: my.lib.Trainer\n  precision: 16\n", None),
])
def test_yaml_is_fixed_only_where_lightning_is_proven(tmp_path, path, text, fixed):
    target = tmp_path / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    result = check(tmp_path, path, "--fix")
    assert (target.read_text() != text) is bool(fixed)
    if fixed is None:
        assert result.returncode == 0 and "PRC" not in result.stdout  # another library's trainer: no setting
    elif not fixed:
        assert "PRC101" in result.stdout and "no fix:" in result.stdout


CLIP = '''\
import torch


def step(model, opt, scaler, loss, use_amp):
    if use_amp:
        scaler.scale(loss).backward()
    else:
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()


def shared_clip(model, opt, scaler, loss, use_amp):
    if use_amp:
        scaler.scale(loss).backward()
    else:
        loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    scaler.step(opt)


def scaled(model, opt, scaler, loss):
    scaler.scale(loss).backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    scaler.step(opt)
'''


def test_unscale_is_inserted_only_on_the_path_where_the_scaler_scaled(tmp_path):
    (tmp_path / "loop.py").write_text(CLIP)
    result = check(tmp_path, "loop.py", "--fix", "--unsafe-fixes")
    lines = [line for line in result.stdout.splitlines() if "PRC406" in line]
    assert [line.split(":")[1] for line in lines] == ["18"]  # the shared clip stays a finding, without a fix
    fixed = (tmp_path / "loop.py").read_text()
    assert fixed.count("scaler.unscale_(opt)") == 1
    assert "    scaler.scale(loss).backward()\n    scaler.unscale_(opt)\n    torch.nn.utils.clip" in fixed


@pytest.mark.parametrize("source, flagged", [
    ("model = Net().half()\nopt = torch.optim.Adam(model.parameters())\n", True),
    ("import lightning as L\nopt = torch.optim.Adam(model.parameters())\nL.Trainer(precision=\"16-true\")\n", True),
    ("state = torch.load('x.pt')\nw = state['w'].half()\nopt = torch.optim.Adam(model.parameters())\n", False),
    ("import lightning as L\nopt = torch.optim.Adam(model.parameters())\n"
     "L.Trainer(strategy=\"deepspeed\", precision=\"16-mixed\")\n", False),
])
def test_optimizer_eps_only_for_half_parameters(tmp_path, source, flagged):
    (tmp_path / "opt.py").write_text("import torch\n" + source)
    assert ("PRC408" in check(tmp_path, "opt.py").stdout) is flagged


@pytest.mark.parametrize("mode", ["--diff", "--fix"])
def test_a_missing_file_under_fix_or_diff_prints_the_prc001_line(tmp_path, mode):
    plain = check(tmp_path, "nope.py")
    line = next(line for line in plain.stdout.splitlines() if "PRC001" in line)
    result = check(tmp_path, "nope.py", mode)
    assert result.returncode == 2 and line in result.stdout + result.stderr


def test_the_diff_ends_with_a_newline_before_the_summary(tmp_path):
    (tmp_path / "cr.py").write_bytes(b"import lightning as L\rL.Trainer(precision=16)\r")
    result = run_cli("check", "cr.py", "--diff", cwd=tmp_path, text=False)
    assert result.stdout.endswith(b"\r\n") and result.stderr.startswith(b"Would fix 1 finding in 1 file.")
    (tmp_path / "cr.py").write_bytes(b"import lightning as L\nL.Trainer(precision=16)")
    result = run_cli("check", "cr.py", "--diff", cwd=tmp_path, text=False)
    assert result.stdout.endswith(b"\n\\ No newline at end of file\n")
