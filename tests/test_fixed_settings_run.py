"""Safe setting fixes keep what Lightning builds: fixtures/run/settings.py before and after
`check --fix`, each Trainer built on CPU and its precision plugin compared. Look-alikes
(a Trainer subclass with its own __init__, a local `def Trainer`) and a plugin built in one
branch keep their code: their fixes are not proven safe. The bitsandbytes dtype fix (PRC308)
builds an fp16 plugin, and is not offered where the file has no `torch` to name the dtype with."""
import importlib.util
import shutil
import warnings
from pathlib import Path

import pytest

from conftest import run_cli

pytest.importorskip("lightning")
FIXTURES = Path(__file__).parent / "fixtures" / "run"
BEFORE, AFTER = FIXTURES / "settings.py", FIXTURES / "settings.fixed.py"
SAME = ["legacy_fp16", "legacy_bf16", "implicit_fp32", "implicit_fp64", "plugin_in_one_branch",
        "subclass_reinterpreting_precision", "shadowed"]
REPAIRED = {"typo": "bf16-mixed", "plugin_and_precision": "bf16-mixed"}  # raised before the fix


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _built(module, name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plugin = getattr(module, name)().precision_plugin
    return type(plugin).__name__, plugin.precision


@pytest.fixture(scope="module")
def modules(tmp_path_factory):
    folder = tmp_path_factory.mktemp("settings")
    shutil.copyfile(BEFORE, folder / "settings.py")
    done = run_cli("check", "settings.py", "--fix", cwd=folder)
    assert (folder / "settings.py").read_bytes() == AFTER.read_bytes(), done.stderr
    assert done.stderr.startswith("Fixed 7 findings in 1 file;")
    return _load(BEFORE, "settings_before"), _load(AFTER, "settings_after")


@pytest.mark.parametrize("name", SAME)
def test_a_safe_fix_builds_the_same_trainer(modules, name):
    before, after = modules
    assert _built(before, name) == _built(after, name)


@pytest.mark.parametrize("name", sorted(REPAIRED))
def test_a_fix_of_a_value_lightning_rejects_builds_what_it_meant(modules, name):
    before, after = modules
    with pytest.raises(ValueError):
        _built(before, name)
    assert _built(after, name)[1] == REPAIRED[name]


def test_a_look_alike_keeps_its_own_meaning(modules):
    before, after = modules
    assert _built(after, "subclass_reinterpreting_precision") == ("Precision", "32-true")  # not "16-mixed"
    assert _built(after, "shadowed") == ("DoublePrecision", "64-true")


BNB_SCRIPT = ("{imported}import lightning as L\nfrom lightning.pytorch.plugins import BitsandbytesPrecision\n"
              "trainer = L.Trainer(plugins=BitsandbytesPrecision(mode='nf4-dq'))\n")


def _plugin_of(code: str):
    """Run the script up to its plugin (a Trainer refuses bitsandbytes without CUDA): the plugin built."""
    namespace: dict = {}
    exec(compile(code.replace("trainer = L.Trainer(plugins=", "plugin = ("), "train.py", "exec"), namespace)
    return namespace["plugin"]


@pytest.mark.parametrize("imported, name", [("import torch\n", "torch"), ("import torch as T\n", "T")])
def test_the_four_bit_dtype_fix_builds_an_fp16_plugin_with_the_files_torch(tmp_path, imported, name):
    import torch
    script = tmp_path / "train.py"
    script.write_text(BNB_SCRIPT.format(imported=imported))
    done = run_cli("check", "train.py", "--gpu", "v100", "--fix", "--unsafe-fixes", "--select", "PRC308", cwd=tmp_path)
    fixed = script.read_text()
    assert done.returncode == 0 and f"BitsandbytesPrecision(mode='nf4-dq', dtype={name}.float16)" in fixed, done.stdout
    assert _plugin_of(fixed).dtype == torch.float16


def test_no_four_bit_dtype_fix_where_the_file_names_no_torch(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(BNB_SCRIPT.format(imported=""))
    done = run_cli("check", "train.py", "--gpu", "v100", "--fix", "--unsafe-fixes", "--select", "PRC308", cwd=tmp_path)
    assert "PRC308" in done.stdout and script.read_text() == BNB_SCRIPT.format(imported="")
    with pytest.raises(NameError):  # what `dtype=torch.float16` would have done there
        _plugin_of(script.read_text().replace("mode='nf4-dq'", "mode='nf4-dq', dtype=torch.float16"))
