"""The dispatch recorder: every aten op a real forward issues, with its dtypes.

Symbolic tracing cannot follow data-dependent control flow; running the
forward can. Every aten op is recorded with the Python frames that issued
it, the dtypes its arguments and results really had, and whether autocast
was on (only the branches actually taken are seen). Under `precision(...)`
the forward runs as the precision setting would run it on the GPU (see
`advisor.trace.autocast`); in a real training run (the Lightning callback)
the real precision plugin is active and the recorder only observes.
"""
from __future__ import annotations

import sys
from contextlib import contextmanager, nullcontext

from advisor.trace import autocast
from advisor.trace.sites import SiteSet, raw_site

HALF_DTYPES = ("torch.float16", "torch.bfloat16")


def _frames() -> list:
    """(path, line, function) of the Python stack, outermost first."""
    frames = []
    frame = sys._getframe(2)
    while frame is not None:
        code = frame.f_code
        frames.append((code.co_filename, frame.f_lineno, _qualname(frame, code)))
        frame = frame.f_back
    return frames[::-1]


def _qualname(frame, code) -> str:
    """`GCNConv.propagate` also for a method compiled outside its class (PyG's generated code)."""
    name = getattr(code, "co_qualname", code.co_name)
    if "." not in name and code.co_argcount and code.co_varnames[0] == "self":
        return f"{type(frame.f_locals['self']).__name__}.{name}"
    return name


def op_name(func) -> tuple:
    """("aten", "aten.scatter_add_.default"), or ("function", "torch.ops.torch_scatter.scatter_sum")
    for an extension's op, as the catalogue spells each."""
    if func.namespace == "aten":
        return "aten", str(func)
    return "function", f"torch.ops.{func.namespace}.{func._opname}"


def floating_dtypes(value) -> list:
    """Sorted names of the floating dtypes among the tensors in `value` (nested)."""
    import torch
    from torch.utils._pytree import tree_flatten

    return sorted({str(t.dtype) for t in tree_flatten(value)[0]
                   if isinstance(t, torch.Tensor) and t.is_floating_point()})


def _non_finite(value) -> bool:
    """Whether a floating tensor (nested) holds inf or NaN."""
    import torch
    from torch.utils._pytree import tree_flatten

    return any(isinstance(t, torch.Tensor) and t.is_floating_point() and not bool(torch.isfinite(t).all())
               for t in tree_flatten(value)[0])


def _non_finite_input(args, kwargs) -> bool:
    """Tensors or Python floats among the inputs that are inf or NaN (a mask's -inf fill value, NaN data)."""
    import math

    from torch.utils._pytree import tree_flatten

    scalars = [v for v in tree_flatten((args, kwargs))[0] if isinstance(v, float)]
    return any(not math.isfinite(v) for v in scalars) or _non_finite((args, kwargs))


def recorder_class():
    from torch.utils._python_dispatch import TorchDispatchMode

    class Recorder(TorchDispatchMode):
        """Records each aten op with its arguments named by the op's schema, and its dtypes.

        Enter `recorder.watcher` first (outside): it tells the recorder autocast's state.
        """

        def __init__(self, emulate_cuda_autocast: bool = False, watch_values: bool = False):
            super().__init__()
            self.emulate = emulate_cuda_autocast  # only where we switched CUDA autocast's state on ourselves
            self.watch_values = watch_values  # find `origin`: costs one isfinite per op
            self.origin = None  # the first op that made inf/NaN out of finite inputs (an overflow, log(0), 0/0)
            self.sites = SiteSet()
            self.watcher = autocast.state_watcher_class()()
            self.error = None  # our own failure: recording stops, the user's forward goes on

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            if self.error is not None:
                return func(*args, **kwargs)
            try:
                emulated = self.watcher.cuda_dtype if self.emulate else None
                args, kwargs = autocast.cast_arguments(func, args, kwargs, emulated)
                names = {a.name: v for a, v in zip(func._schema.arguments, args, strict=False)}
                site = raw_site(*op_name(func), _frames(), args, {**names, **kwargs},
                                dtypes=floating_dtypes((args, kwargs)), autocast=self.watcher.active)
            except Exception as exc:  # noqa: BLE001 - a bug of ours must not break the user's forward
                self.error = exc
                return func(*args, **kwargs)
            try:
                result = func(*args, **kwargs)
            except Exception as exc:
                message = str(exc).strip().splitlines()
                self._add(dict(site, failed=f"{type(exc).__name__}: {message[0] if message else ''}"))
                raise
            site = dict(site, dtypes=sorted(set(site["dtypes"]) | set(floating_dtypes(result))))
            self._add(site)
            if self.watch_values and self.origin is None:
                self._watch(site, result, args, kwargs)
            return result

        def _watch(self, site: dict, result, args, kwargs) -> None:
            try:
                if _non_finite(result) and not _non_finite_input(args, kwargs):
                    self.origin = site
            except Exception as exc:  # noqa: BLE001
                self.error = exc

        def _add(self, site: dict) -> None:
            try:
                self.sites.add(site)
            except Exception as exc:  # noqa: BLE001
                self.error = exc

    return Recorder


def call_forward(model, example):
    """Lightning's convention: a tuple is positional arguments, a dict keywords."""
    if isinstance(example, (list, tuple)):
        return model(*example)
    if isinstance(example, dict):
        return model(**example)
    return model(example)


@contextmanager
def precision(mode: str, dtype_name: str, model, example):
    """Yield the example as `mode` ("mixed", "true", "32") runs it: mixed turns CUDA autocast's
    state on with the half dtype, true converts the model and floating inputs to it."""
    import torch
    from torch.utils._pytree import tree_map

    if mode == "mixed":
        with autocast.cuda_autocast_state(dtype_name):
            yield example
        return
    if mode == "true":
        half = getattr(torch, dtype_name)
        model.to(half)
        example = tree_map(lambda v: v.to(half) if isinstance(v, torch.Tensor) and v.is_floating_point() else v,
                           example)
    yield example


def record_ops(model, example, device=None, mode: str = "32", dtype_name: str = "bfloat16") -> list:
    """Run `model` on `example` (moved to `device` if given) under the precision and return the op facts.

    If the forward raises (an op that cannot run in half precision does), the ops up to the failing
    one are kept, the failing one marked `failed`, and the error is raised as `ForwardFailed`.
    """
    import torch
    from torch.utils._pytree import tree_map

    if device is not None:
        example = tree_map(lambda v: v.to(device) if isinstance(v, torch.Tensor) else v, example)
    recorder = recorder_class()(emulate_cuda_autocast=mode == "mixed")
    try:
        with torch.no_grad(), torch.device(device) if device else nullcontext(), \
                precision(mode, dtype_name, model, example) as ready, recorder.watcher, recorder:
            call_forward(model, ready)
    except Exception as exc:
        raise ForwardFailed(exc, recorder.sites.list()) from exc
    return recorder.sites.list()


class ForwardFailed(Exception):
    """The forward raised; `sites` holds what ran before (and the op that failed)."""

    def __init__(self, error: Exception, sites: list):
        super().__init__(str(error))
        self.error, self.sites = error, sites
