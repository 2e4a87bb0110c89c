"""Find and build the user's model from a training script.

Shared by `check --trace` and `validate`. A script is imported as a module
(its folder first on sys.path, so its local imports work) under a name other
than `__main__`, so its `if __name__ == "__main__":` block never runs.

    load_models("train.py")                    # every LightningModule defined in train.py
    load_models("train.py", "Regressor")       # one class (or zero-arg factory) in train.py
    load_models("train.py", "models.py:Net")   # ... in another file
    load_models("train.py", "pkg.models:make") # ... in an importable module
    load_models("train.py", device="meta")     # build under a device context (no real weights)

A factory is a zero-argument callable returning a module or
`(module, example_input)`. Plain `nn.Module`s are allowed when named.
Every failure is a `ModelLoadError` whose message is one line naming the
model and the cause. torch is imported only when a model is built.
"""
from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from advisor.isolation import describe_exception

# Fully qualified base class -> the Lightning package whose Trainer can fit it.
LIGHTNING_BASES = {
    "lightning.pytorch.core.module.LightningModule": "lightning.pytorch",
    "pytorch_lightning.core.module.LightningModule": "pytorch_lightning",
}
TORCH_MODULE = "torch.nn.modules.module.Module"
_IMPORTED: dict[Path, Any] = {}  # script path -> module, so a script runs its top level once


class ModelLoadError(Exception):
    """The model could not be found or built; the message is one line for the user."""

    user_facing = True


@dataclass
class LoadedModel:
    """A constructed model and where it came from."""

    name: str  # class or factory name
    path: str  # file that defines it
    line: int  # 1-based line of the definition (0 when unknown)
    module: Any  # the torch.nn.Module instance
    example_input: Any  # example_input_array, the factory's second value, or None
    framework: str | None  # "lightning.pytorch", "pytorch_lightning", or None for a plain nn.Module


def load_models(script: str, spec: str | None = None, device: str | None = None) -> list[LoadedModel]:
    """Build the model named by `spec`, or every LightningModule defined in `script`.

    With `device` (e.g. "meta") construction runs under `torch.device(device)`.
    """
    if spec:
        obj, module = resolve(script, spec)
        return [_build(obj, module, device, spec.rpartition(":")[2])]
    module = import_script(script)
    classes = [obj for obj in vars(module).values() if _defined_in(obj, module) and lightning_framework(obj)]
    if not classes:
        raise ModelLoadError(f"{script}: no LightningModule subclass defined here; name one with --model path.py:Name")
    return [_build(cls, module, device, cls.__name__) for cls in classes]


def load_model(script: str, spec: str | None = None, device: str | None = None) -> LoadedModel:
    """The one model to run: as `load_models`, but more than one candidate is an error."""
    if not spec:
        module = import_script(script)
        names = [name for name, obj in vars(module).items() if _defined_in(obj, module) and lightning_framework(obj)]
        if len(names) > 1:
            raise ModelLoadError(f"{script} defines {len(names)} LightningModules ({', '.join(names)}); "
                                 f"choose one with --model {Path(script).name}:{names[0]}")
    return load_models(script, spec, device)[0]


def resolve(script: str, spec: str) -> tuple[Any, Any]:
    """The object named by `spec` ("Name", "file.py:Name" or "module:Name") and its module."""
    where, _, name = spec.rpartition(":")
    if not where:
        module = import_script(script)
    elif where.endswith(".py") or Path(where).is_file():
        module = import_script(where)
    else:
        _add_to_path(Path(script).resolve().parent)
        try:
            module = importlib.import_module(where)
        except Exception as exc:
            raise ModelLoadError(f"cannot import {where} (from --model {spec}): {describe_exception(exc)}") from None
    obj = getattr(module, name, None)
    if obj is None:
        raise ModelLoadError(f"{spec}: {getattr(module, '__file__', where)} has no attribute {name!r}")
    return obj, module


def import_script(script: str):
    """Import a script file as a module without running its `__main__` block."""
    path = Path(script).resolve()
    if not path.is_file():
        raise ModelLoadError(f"{script}: no such file")
    if path in _IMPORTED:
        return _IMPORTED[path]
    name = path.stem
    if not name.isidentifier() or name in sys.modules or name in sys.stdlib_module_names:
        name = f"_prec_advisor_user_{abs(hash(str(path)))}"
    _add_to_path(path.parent)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # so pickling, dataclasses and local re-imports find it
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:  # noqa: BLE001 - a script may sys.exit() or raise anything at import
        del sys.modules[name]
        raise ModelLoadError(f"{script}: importing failed: {describe_exception(exc)}") from None
    _IMPORTED[path] = module
    return module


def lightning_framework(obj) -> str | None:
    """"lightning.pytorch" or "pytorch_lightning" for a LightningModule subclass, else None."""
    for base in _mro(obj):
        if base in LIGHTNING_BASES:
            return LIGHTNING_BASES[base]
    return None


def _mro(obj) -> list[str]:
    return [f"{c.__module__}.{c.__qualname__}" for c in inspect.getmro(obj)] if inspect.isclass(obj) else []


def _defined_in(obj, module) -> bool:
    return inspect.isclass(obj) and obj.__module__ == module.__name__


def _add_to_path(folder: Path) -> None:
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))


def _build(obj, module, device: str | None, name: str) -> LoadedModel:
    is_class = inspect.isclass(obj)
    if is_class and TORCH_MODULE not in _mro(obj):
        raise ModelLoadError(f"{name} is not a torch.nn.Module subclass")
    if not is_class and not callable(obj):
        raise ModelLoadError(f"{name} is neither a class nor a zero-argument factory")
    context = nullcontext()
    if device:
        import torch
        context = torch.device(device)
    try:
        with context:
            made = obj()
    except Exception as exc:
        hint = "; give --model a zero-argument factory" if isinstance(exc, TypeError) and is_class else ""
        raise ModelLoadError(f"{name}() failed: {describe_exception(exc)}{hint}") from None
    instance, example = made if isinstance(made, tuple) and len(made) == 2 else (made, None)
    if TORCH_MODULE not in _mro(type(instance)):
        raise ModelLoadError(f"{name}() returned {type(instance).__name__}, not a torch.nn.Module")
    if lightning_framework(type(instance)):
        _configure(instance, context, name)
    if example is None:
        example = getattr(instance, "example_input_array", None)
    return LoadedModel(name, _source_file(obj, module), _source_line(obj), instance, example,
                       lightning_framework(type(instance)))


def _configure(instance, context, name: str) -> None:
    """Lightning's big-model hook: the Trainer calls `configure_model()` (before 2.1
    `configure_sharded_model()`) under its init context, after `__init__`; so do we,
    under the same device, so layers built there are counted and traced."""
    hook = getattr(instance, "configure_model", None) or getattr(instance, "configure_sharded_model", None)
    if hook is None:
        return
    try:
        with context:
            hook()
    except Exception as exc:
        raise ModelLoadError(f"{name}.configure_model() failed: {describe_exception(exc)}") from None


def _source_file(obj, module) -> str:
    try:
        return inspect.getsourcefile(obj) or module.__file__
    except TypeError:
        return module.__file__


def _source_line(obj) -> int:
    try:
        return inspect.getsourcelines(obj)[1]
    except (OSError, TypeError):
        return 0
