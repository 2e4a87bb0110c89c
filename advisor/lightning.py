"""What Lightning 2.x accepts for `precision=` and who the settings belong to.

Facts from lightning/fabric/plugins/precision/precision.py and the
accelerator connector (see shared design notes, lightning-precision.md §1).
"""
from __future__ import annotations

import difflib

VALID_PRECISIONS = (
    "transformer-engine", "transformer-engine-float16", "16-true", "16-mixed",
    "bf16-true", "bf16-mixed", "32-true", "64-true",
)
# Legacy inputs Lightning still accepts, and what it turns them into.
ALIASES = {64: "64-true", 32: "32-true", 16: "16-mixed", "64": "64-true", "32": "32-true", "16": "16-mixed",
           "bf16": "bf16-mixed"}
# Aliases that Lightning warns about ("supported for historical reasons but its usage is discouraged").
DISCOURAGED_ALIASES = (16, "16", "bf16")
# Lightning 1.x spellings that 2.x rejects, with the 2.x value they meant.
LEGACY_1X = {"mixed": "16-mixed", "half": "16-true", "bfloat16": "bf16-mixed", "fp16": "16-mixed", "fp32": "32-true",
             "float16": "16-mixed", "float32": "32-true", "double": "64-true", "fp64": "64-true",
             "bf16-16": "bf16-mixed"}

# BitsandbytesPrecision(mode=...): any other value raises KeyError when the plugin is built.
BNB_MODES = ("nf4", "nf4-dq", "fp4", "fp4-dq", "int8", "int8-training")

LIGHTNING_ROOTS = ("lightning", "pytorch_lightning", "lightning_fabric")
REMOVED_TRAINER_ARGUMENTS = ("amp_backend", "amp_level")

# strategy -> precision values it rejects (the connector raises ValueError)
STRATEGY_REJECTS = {
    "fsdp": ("64-true", "transformer-engine", "transformer-engine-float16"),
    "deepspeed": ("64-true", "transformer-engine", "transformer-engine-float16"),
    "xla": ("16-mixed", "bf16-mixed", "64-true", "transformer-engine", "transformer-engine-float16"),
    "model_parallel": ("16-mixed", "64-true", "transformer-engine", "transformer-engine-float16"),
}
STRATEGY_CLASSES = {
    "FSDPStrategy": "fsdp", "DeepSpeedStrategy": "deepspeed", "XLAStrategy": "xla", "XLAFSDPStrategy": "xla",
    "SingleDeviceXLAStrategy": "xla", "ModelParallelStrategy": "model_parallel", "DDPStrategy": "ddp",
}

PRECISION_PLUGINS = (
    "BitsandbytesPrecision", "TransformerEnginePrecision", "MixedPrecision", "HalfPrecision", "DoublePrecision",
    "Precision", "FSDPPrecision", "DeepSpeedPrecision", "XLAPrecision",
)
# 2.0/2.1 names, deprecated since 2.2 -> their 2.2+ names
SUFFIXED_PLUGINS = {name + "Plugin": name for name in PRECISION_PLUGINS}
SUFFIXED_PLUGINS["PrecisionPlugin"] = "Precision"


def is_lightning(qualified: str | None, name: str) -> bool:
    """True for lightning.X...name, pytorch_lightning...name, lightning_fabric...name."""
    if not qualified:
        return False
    parts = qualified.split(".")
    return parts[0] in LIGHTNING_ROOTS and parts[-1] == name


LITE_CLASSES = ("pytorch_lightning.lite.LightningLite", "pytorch_lightning.lite.lite.LightningLite",
                 "lightning.lite.LightningLite", "lightning_lite.LightningLite", "lightning_lite.lite.LightningLite")


def is_lite(qualified: str | None) -> bool:
    """Lightning 1.x `LightningLite`, which 2.x renamed to Fabric."""
    return qualified in LITE_CLASSES


def setting_kind(qualified: str | None) -> str | None:
    for kind in ("Trainer", "Fabric", "LightningCLI"):
        if is_lightning(qualified, kind):
            return kind
    return None


def normalize(value) -> str | None:
    """The 2.x string Lightning turns `value` into, or None if it raises."""
    if isinstance(value, bool):
        return None
    if value in VALID_PRECISIONS:
        return value
    if isinstance(value, (int, str)) and value in ALIASES:
        return ALIASES[value]
    return None


def closest_valid(value) -> str | None:
    """The valid value a typo most likely meant, or None when nothing is close."""
    text = str(value).strip().lower().replace("_", "-").replace(" ", "-")
    if text in LEGACY_1X:
        return LEGACY_1X[text]
    if normalize(text) is not None:
        return normalize(text)
    matches = difflib.get_close_matches(text, VALID_PRECISIONS, n=1, cutoff=0.75)
    return matches[0] if matches else None


def strategy_family(strategy: str | None) -> str | None:
    """'fsdp', 'deepspeed', 'xla', 'model_parallel', ... from a literal or a class name."""
    if not strategy:
        return None
    if strategy in STRATEGY_CLASSES:
        return STRATEGY_CLASSES[strategy]
    lowered = strategy.lower()
    for family in ("fsdp", "deepspeed", "xla", "model_parallel"):
        if lowered.startswith(family):
            return family
    return lowered


def is_true_half(normalized: str | None) -> bool:
    return normalized in ("16-true", "bf16-true")


def is_fp16(normalized: str | None) -> bool:
    return normalized in ("16-mixed", "16-true", "transformer-engine-float16")
