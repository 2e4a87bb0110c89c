"""modelload: find and build user models from scripts, with one-line errors."""
import textwrap

import pytest

from advisor.modelload import ModelLoadError, import_script, load_model, load_models

TWO_SPELLINGS = """\
import lightning.pytorch as L
import pytorch_lightning as PL
import torch
from helper import WIDTH


class New(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(WIDTH, 2)
        self.example_input_array = torch.zeros(3, WIDTH)


class Old(PL.LightningModule):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(WIDTH, 2)


class Plain(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(WIDTH, 2)


def make():
    return Plain(), torch.ones(1, WIDTH)


def make_bad():
    return 42


if __name__ == "__main__":
    raise SystemExit("the main block must never run")
"""
NEEDS_ARGS = """
class NeedsArgs(L.LightningModule):
    def __init__(self, width):
        super().__init__()
"""


def write(folder, name, text):
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return str(path)


@pytest.fixture
def script(tmp_path):
    write(tmp_path, "helper.py", "WIDTH = 4\n")
    return write(tmp_path, "models_two.py", TWO_SPELLINGS)


def test_finds_lightning_modules_of_both_spellings_without_running_main(script):
    found = {m.name: m for m in load_models(script)}
    assert set(found) == {"New", "Old"}
    assert found["New"].framework == "lightning.pytorch" and found["Old"].framework == "pytorch_lightning"
    assert found["New"].line == 7 and found["New"].path.endswith("models_two.py")
    assert tuple(found["New"].example_input.shape) == (3, 4)  # from example_input_array
    assert found["Old"].example_input is None


def test_named_class_factory_and_plain_module(script, tmp_path):
    assert load_models(script, "Plain")[0].framework is None
    made = load_model(script, f"{script}:make")
    assert made.name == "make" and type(made.module).__name__ == "Plain"
    assert made.example_input.tolist() == [[1.0, 1.0, 1.0, 1.0]]
    write(tmp_path, "helper_models.py", "import torch\n\n\ndef Net():\n    return torch.nn.Linear(2, 2)\n")
    assert load_model(script, "helper_models:Net").path.endswith("helper_models.py")  # importable module


def test_meta_device_builds_without_real_weights(script):
    model = load_model(script, "New", device="meta")
    assert all(p.device.type == "meta" for p in model.module.parameters())


def test_several_lightning_modules_need_a_choice(script):
    with pytest.raises(ModelLoadError, match=r"defines 2 LightningModules \(New, Old\); choose one with --model"):
        load_model(script)


@pytest.mark.parametrize("spec, message", [
    ("Missing", "has no attribute 'Missing'"),
    ("make_bad", r"make_bad\(\) returned int, not a torch.nn.Module"),
    ("WIDTH", "WIDTH is neither a class nor a zero-argument factory"),
    ("NeedsArgs", r"NeedsArgs\(\) failed: TypeError: .*width.*; give --model a zero-argument factory"),
    ("nowhere.mod:Net", r"cannot import nowhere.mod \(from --model nowhere.mod:Net\): ModuleNotFoundError"),
])
def test_errors_name_the_model_and_cause(tmp_path, spec, message):
    write(tmp_path, "helper.py", "WIDTH = 4\n")
    path = write(tmp_path, "models_err.py", TWO_SPELLINGS + NEEDS_ARGS)
    with pytest.raises(ModelLoadError, match=message) as info:
        load_models(path, spec)
    assert "\n" not in str(info.value)


def test_script_errors(tmp_path):
    with pytest.raises(ModelLoadError, match="no LightningModule subclass defined here"):
        load_models(write(tmp_path, "empty_script.py", "x = 1\n"))
    broken = r"importing failed: ZeroDivisionError: division by zero \(at broken_script.py:2\)"
    with pytest.raises(ModelLoadError, match=broken):
        import_script(write(tmp_path, "broken_script.py", "y = 2\nx = 1 / 0\n"))
    with pytest.raises(ModelLoadError, match="no such file"):
        import_script(str(tmp_path / "absent.py"))
