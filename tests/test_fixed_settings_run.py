"""Safe setting fixes keep what Lightning builds: fixtures/run/settings.py before and after
`check --fix`, each Trainer built on CPU and its precision plugin compared. Look-alikes
(a Trainer subclass with its own __init__, a local `def Trainer`) and a plugin built in one
branch keep their code: their fixes are not proven safe."""
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
