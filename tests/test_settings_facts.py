"""Precision settings are facts: every Lightning spelling is found, nothing else is."""
import pytest

from advisor.api import check_text


def settings(code):
    return [s.to_json() for s in check_text(code, "train.py").settings]


@pytest.mark.parametrize("code, callee", [
    ("import lightning as L\nL.Trainer(precision=16)\n", "lightning.Trainer"),
    ("import lightning.pytorch as pl\npl.Trainer(precision=16)\n", "lightning.pytorch.Trainer"),
    ("import pytorch_lightning as pl\npl.Trainer(precision=16)\n", "pytorch_lightning.Trainer"),
    ("from lightning.pytorch import Trainer as T\nT(precision=16)\n", "lightning.pytorch.Trainer"),
    ("from lightning_fabric import Fabric\nFabric(precision=16)\n", "lightning_fabric.Fabric"),
    ("import lightning\nlightning.fabric.Fabric(precision=16)\n", "lightning.fabric.Fabric"),
    ("import lightning as L\nMake = L.Trainer\nMake(precision=16)\n", "lightning.Trainer"),
    ("def main():\n    from pytorch_lightning import Trainer\n    Trainer(precision=16)\n",
     "pytorch_lightning.Trainer"),
])
def test_every_spelling_is_a_setting(code, callee):
    found = settings(code)
    assert [(s["callee"], s["precision"], s["normalized"]) for s in found] == [(callee, "16", "16-mixed")]


def test_subclass_defined_in_the_file_is_a_trainer():
    code = "import lightning as L\nclass MyTrainer(L.Trainer):\n    pass\nMyTrainer(precision='bf16')\n"
    assert [(s["kind"], s["normalized"], s["line"]) for s in settings(code)] == [("Trainer", "bf16-mixed", 4)]


@pytest.mark.parametrize("code", [
    "class Trainer:\n    pass\nTrainer(precision=16)\n",
    "from transformers import Trainer\nTrainer(precision=16)\n",
    "s = 'L.Trainer(precision=16)'\n",
    "# L.Trainer(precision=16)\n",
    "def f():\n    '''Trainer(precision=16)'''\n",
    "import torch\ntorch.set_float32_matmul_precision('high')\n",
])
def test_not_settings(code):
    assert settings(code) == []


def test_values_that_are_not_static_are_null():
    code = "import lightning as L\nL.Trainer(precision=args.precision)\nkw = {}\nL.Trainer(**kw)\n"
    found = settings(code)
    assert [(s["precision"], s["normalized"]) for s in found] == [("args.precision", None), (None, None)]


def test_conditional_of_literals_keeps_every_branch():
    code = "import lightning as L\nL.Trainer(precision='bf16-mixed' if fast else 32)\n"
    (setting,) = settings(code)
    assert setting["values"] == ["bf16-mixed", "32"] and setting["normalized"] is None
    code = "import lightning as L\nL.Trainer(precision='16' if fast else 16)\n"
    assert settings(code)[0]["normalized"] == "16-mixed"


def test_accelerator_devices_strategy_and_plugins():
    code = ("import lightning as L\nfrom lightning.pytorch.plugins import BitsandbytesPrecision\n"
            "from lightning.pytorch.strategies import FSDPStrategy\n"
            "q = BitsandbytesPrecision(mode='nf4-dq')\n"
            "L.Trainer(accelerator='gpu', devices=4, strategy=FSDPStrategy(), plugins=[q])\n")
    (setting,) = settings(code)
    assert (setting["accelerator"], setting["devices"], setting["strategy"]) == ("gpu", "4", "FSDPStrategy")
    assert setting["plugins"] == ["lightning.pytorch.plugins.BitsandbytesPrecision"]


def test_lightning_cli_trainer_defaults():
    code = ("from lightning.pytorch.cli import LightningCLI\n"
            "LightningCLI(Model, trainer_defaults={'precision': 'bf16', 'max_epochs': 3})\n"
            "LightningCLI(Model, trainer_defaults=dict(precision=32))\n"
            "LightningCLI(Model)\n")
    found = settings(code)
    assert [(s["kind"], s["normalized"], s["line"]) for s in found] == [
        ("LightningCLI", "bf16-mixed", 2), ("LightningCLI", "32-true", 3)]
