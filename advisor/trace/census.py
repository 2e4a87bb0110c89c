"""The parameter census: what the model holds, counted without allocating it.

The model is built under `torch.device("meta")`, so a 20-billion-parameter
model is counted on a laptop. Tied weights count once (the first module
that holds them). Lazy modules' uninitialized parameters count as zero.
"""
from __future__ import annotations

from advisor.facts import ModelCensus


def count(model, name: str) -> ModelCensus:
    import torch

    seen: set = set()
    by_type: dict = {}
    params = trainable = linear = 0
    for module in model.modules():
        for param in module.parameters(recurse=False):
            if id(param) in seen or isinstance(param, torch.nn.parameter.UninitializedParameter):
                continue
            seen.add(id(param))
            size = param.numel()
            params += size
            trainable += size if param.requires_grad else 0
            linear += size if isinstance(module, torch.nn.Linear) else 0
            kind = type(module).__name__
            by_type[kind] = by_type.get(kind, 0) + size
    buffers = sum(b.numel() for b in model.buffers() if not isinstance(b, torch.nn.parameter.UninitializedBuffer))
    ranked = tuple(sorted(by_type.items(), key=lambda item: (-item[1], item[0])))
    return ModelCensus(name, params, trainable, linear, buffers, ranked)
