"""The fallback tracer: record aten ops under a TorchDispatchMode during a real forward.

Symbolic tracing cannot follow data-dependent control flow; running the
forward can. Every aten op the forward issues is recorded with the Python
frames that issued it (only the branches actually taken are seen).
"""
from __future__ import annotations

import sys
from contextlib import nullcontext

from advisor.trace.sites import SiteSet, raw_site


def _frames() -> list:
    """(path, line, function) of the Python stack, outermost first."""
    frames = []
    frame = sys._getframe(2)
    while frame is not None:
        code = frame.f_code
        frames.append((code.co_filename, frame.f_lineno, getattr(code, "co_qualname", code.co_name)))
        frame = frame.f_back
    return frames[::-1]


def op_name(func) -> tuple:
    """("aten", "aten.scatter_add_.default"), or ("function", "torch.ops.torch_scatter.scatter_sum")
    for an extension's op, as the catalogue spells each."""
    if func.namespace == "aten":
        return "aten", str(func)
    return "function", f"torch.ops.{func.namespace}.{func._opname}"


def _recorder_class():
    from torch.utils._python_dispatch import TorchDispatchMode

    class Recorder(TorchDispatchMode):
        """Records each aten op with its arguments named by the op's schema."""

        def __init__(self):
            super().__init__()
            self.sites = SiteSet()

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            names = {a.name: v for a, v in zip(func._schema.arguments, args, strict=False)}
            self.sites.add(raw_site(*op_name(func), _frames(), args, {**names, **kwargs}))
            return func(*args, **kwargs)

    return Recorder


def call_forward(model, example):
    """Lightning's convention: a tuple is positional arguments, a dict keywords."""
    if isinstance(example, (list, tuple)):
        return model(*example)
    if isinstance(example, dict):
        return model(**example)
    return model(example)


def record_ops(model, example, device=None) -> list:
    """Run `model` on `example` (moved to `device` if given) and return the aten op facts."""
    import torch
    from torch.utils._pytree import tree_map

    if device is not None:
        example = tree_map(lambda v: v.to(device) if isinstance(v, torch.Tensor) else v, example)
    recorder = _recorder_class()()
    with torch.no_grad(), torch.device(device) if device else nullcontext(), recorder:
        call_forward(model, example)
    return recorder.sites.list()
