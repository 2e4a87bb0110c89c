"""What a class or function is for, from names alone: an nn.Module's forward runs under
autocast, a Dataset's __getitem__ does not. Shared by the walk and the project-wide judgement."""
from __future__ import annotations

import re

from advisor import lightning

STEP_RE = re.compile(r"^(training|validation|test|predict)_step$|_step$")
DATA_METHODS = {"setup", "prepare_data", "train_dataloader", "val_dataloader", "test_dataloader",
                "predict_dataloader", "configure_optimizers", "__getitem__", "__len__", "__iter__"}
MODULE_BASES = ("torch.nn.Module", "torch.nn.modules.module.Module")
FUNCTION_BASES = ("torch.autograd.Function", "torch.autograd.function.Function")
DATA_BASE_SUFFIXES = ("Dataset", "IterableDataset", "DataModule", "LightningDataModule", "BaseTransform",
                      "DataLoader", "Sampler")


def is_module_base(base: str) -> bool:
    """nn.Module, LightningModule or a PyG layer: their forward runs under autocast."""
    return (base in MODULE_BASES or lightning.is_lightning(base, "LightningModule")
            or base.startswith("torch_geometric.nn"))


def class_kind(bases: tuple) -> str:
    for base in bases:
        last = base.rsplit(".", 1)[-1]
        if base in FUNCTION_BASES:
            return "autograd"
        if last.endswith(DATA_BASE_SUFFIXES):
            return "data"
        if is_module_base(base):
            return "module"
    return "other"


def function_context(owner_kind: str | None, name: str) -> str:
    """Where a function of a class of `owner_kind` (None: a module-level function) runs."""
    if owner_kind is None:
        return "helper"
    if owner_kind == "data" or name in DATA_METHODS:
        return "data"
    if name == "__init__":
        return "init"
    if owner_kind == "autograd":
        return "backward" if name == "backward" else "forward"
    if owner_kind == "module":
        if name == "forward":
            return "forward"
        if STEP_RE.search(name):
            return "step"
    return "helper"
