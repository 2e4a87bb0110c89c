"""torch.fx symbolic tracing: op facts from the model's graph, with source lines.

Every `call_function` target gets its public dotted name (torch.scatter_add,
torch.linalg.inv, torch.nn.functional.softmax, torch_geometric.utils.scatter),
`call_method` the Tensor method name, `call_module` the module's class and
MRO names. Modules whose class (or a base) a rule names, e.g. PyG's
MessagePassing and Aggregation, are kept whole (leaves), so tracing does
not walk into their data-dependent internals.
"""
from __future__ import annotations

import re
from functools import lru_cache

from advisor.trace.sites import SiteSet, raw_site

_FRAME_RE = re.compile(r'File "(?P<path>[^"]+)", line (?P<line>\d+), in (?P<func>\S+)')
# Public namespaces that hold the builtins fx records, most specific first.
_NAMESPACES = ("torch.linalg", "torch.fft", "torch.special", "torch.sparse", "torch.nn.functional", "torch")


def class_names(cls) -> list:
    """Qualified names of a class and its bases, most derived first."""
    return [f"{c.__module__}.{c.__qualname__}" for c in cls.__mro__ if c is not object]


@lru_cache(maxsize=1)
def _public_names() -> dict:
    import importlib

    names = {}
    for namespace in reversed(_NAMESPACES):  # the specific namespace wins
        for attr, value in vars(importlib.import_module(namespace)).items():
            if callable(value) and not attr.startswith("__"):
                names[id(value)] = f"{namespace}.{attr}"
    return names


def function_name(target) -> str:
    """torch.scatter_add for `torch._VariableFunctionsClass.scatter_add`, and so on."""
    import torch

    if isinstance(target, (torch._ops.OpOverload, torch._ops.OpOverloadPacket)):
        return f"torch.ops.{target.name().replace('::', '.')}"
    public = _public_names().get(id(target))
    if public:
        return public
    module = getattr(target, "__module__", None) or ""
    qualname = getattr(target, "__qualname__", None) or getattr(target, "__name__", repr(target))
    return f"{module.lstrip('_')}.{qualname}" if module else qualname


def stack_frames(stack_trace) -> list:
    """(path, line, function) frames of an fx node's recorded stack trace."""
    return [(m["path"], int(m["line"]), m["func"]) for m in _FRAME_RE.finditer(stack_trace or "")]


def _tracer_class():
    import torch.fx

    class LeafTracer(torch.fx.Tracer):
        """fx's tracer, with stack traces on, keeping the named module classes whole."""

        def __init__(self, is_leaf_class):
            super().__init__()
            self.record_stack_traces = True
            self.is_leaf_class = is_leaf_class

        def is_leaf_module(self, module, qualname):
            return self.is_leaf_class(type(module)) or super().is_leaf_module(module, qualname)

    return LeafTracer


def trace_ops(model, is_leaf_class) -> list:
    """Symbolically trace `model.forward`; raises what fx raises (TraceError, TypeError...)."""
    tracer = _tracer_class()(is_leaf_class)
    graph = tracer.trace(model)
    sites = SiteSet()
    for node in graph.nodes:
        frames = stack_frames(node.stack_trace)
        if node.op == "call_function":
            sites.add(raw_site("function", function_name(node.target), frames, node.args, node.kwargs))
        elif node.op == "call_method":
            sites.add(raw_site("method", node.target, frames, node.args[1:], node.kwargs))
        elif node.op == "call_module":
            names = class_names(type(model.get_submodule(node.target)))
            sites.add(raw_site("module", names[0], frames, mro=names))
    return sites.list()
