"""What the script itself asks of its Trainer, read statically (no user code runs).

Validation should train the way the user's run will, so the first `Trainer(...)`
call's arguments that change numerics or memory are carried into every candidate
(gradient clipping, accumulation, strategy, devices, determinism, cudnn
benchmark), and so is the fp32 matmul precision the script sets (TF32 or not).
Values that are not literals cannot be carried and are listed as such.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

from advisor.lightning import normalize
from advisor.scan import sourcefile

CARRIED = ("gradient_clip_val", "gradient_clip_algorithm", "accumulate_grad_batches", "strategy", "devices",
           "num_nodes", "deterministic", "benchmark")
TORCH_DEFAULT_MATMUL = "highest"  # torch's default; Lightning only warns on Ampere+, it sets nothing


class ScriptError(Exception):
    """The script cannot be validated at all (not a file, not Python): one line for the user."""


@dataclass
class ScriptSettings:
    """The script's Trainer settings that validation reproduces."""

    trainer: dict = field(default_factory=dict)  # carried arguments, by name
    not_carried: list = field(default_factory=list)  # {"argument", "value", "reason"}
    precision: str | None = None  # the Trainer's precision= literal, as its Lightning 2.x value
    matmul_precision: str | None = None  # set by the script, or None for torch's default
    matmul_source: str = "torch default"

    def to_json(self) -> dict:
        return {"trainer": self.trainer, "trainer_not_carried": self.not_carried,
                "matmul_precision": {"value": self.matmul_precision or TORCH_DEFAULT_MATMUL,
                                     "source": self.matmul_source}}


def read_settings(path: str) -> ScriptSettings:
    """Parse `path` and collect its Trainer arguments; ScriptError when it is not a Python file."""
    try:
        source = sourcefile.read(Path(path))
    except FileNotFoundError:
        raise ScriptError(f"{path}: no such file") from None
    except sourcefile.InputError as exc:
        message = "no such file" if "No such file" in exc.message else exc.message
        raise ScriptError(f"{path}: {message}") from None
    try:
        tree = ast.parse(source.text, filename=path)
    except SyntaxError as exc:
        raise ScriptError(f"{path}:{exc.lineno or 1}: not a Python script ({exc.msg})") from None
    settings = ScriptSettings()
    trainer = next((node for node in ast.walk(tree) if isinstance(node, ast.Call) and _name(node.func) == "Trainer"),
                   None)
    if trainer is not None:
        _read_trainer(trainer, settings)
    _read_matmul(tree, Path(path).name, settings)
    return settings


def _read_trainer(call: ast.Call, settings: ScriptSettings) -> None:
    for keyword in call.keywords:
        if keyword.arg == "precision" and isinstance(keyword.value, ast.Constant):
            settings.precision = normalize(keyword.value.value)
        if keyword.arg not in CARRIED:
            continue
        try:
            value = ast.literal_eval(keyword.value)
        except ValueError:
            settings.not_carried.append({"argument": keyword.arg, "value": ast.unparse(keyword.value),
                                         "reason": "not a literal; validate cannot evaluate it"})
            continue
        if keyword.arg == "num_nodes" and value != 1:
            settings.not_carried.append({"argument": "num_nodes", "value": value,
                                         "reason": "validate runs on one node"})
            continue
        settings.trainer[keyword.arg] = value


def _read_matmul(tree: ast.AST, name: str, settings: ScriptSettings) -> None:
    """The last `set_float32_matmul_precision("...")` or `...matmul.allow_tf32 = True/False` in the file."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _name(node.func) == "set_float32_matmul_precision" and node.args:
            value = node.args[0].value if isinstance(node.args[0], ast.Constant) else None
            if value in ("highest", "high", "medium"):
                found.append((node.lineno, value))
        elif isinstance(node, ast.Assign) and any(_dotted(t).endswith("matmul.allow_tf32") for t in node.targets):
            if isinstance(node.value, ast.Constant) and isinstance(node.value.value, bool):
                found.append((node.lineno, "high" if node.value.value else "highest"))
    if found:
        line, value = max(found)
        settings.matmul_precision, settings.matmul_source = value, f"{name}:{line}"


def _name(func: ast.AST) -> str:
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return getattr(node, "id", "")
