"""Records what the memory model needs: the optimizers built, and whether a model is built
under `trainer.init_module()` / `fabric.init_module()`."""
from __future__ import annotations

import libcst as cst

from advisor.scan.values import literal
from advisor.scan.walk import Recorder

OPTIMIZER_PREFIXES = ("torch.optim.", "bitsandbytes.optim.")  # constructors the memory model reads
OPTIMIZER_KEYWORDS = ("momentum", "optim_bits")


class TrainingRecorder(Recorder):
    def visit_Call(self, node: cst.Call) -> None:
        walk = self.walk
        qualified = walk.qualify(node.func)
        if qualified and (qualified.startswith(OPTIMIZER_PREFIXES) or qualified.endswith(".Adafactor")):
            keywords = {arg.keyword.value: literal(arg.value, walk.qualify) for arg in node.args
                        if arg.keyword is not None and arg.keyword.value in OPTIMIZER_KEYWORDS}
            walk.facts.optimizers.append((qualified, keywords))
        elif isinstance(node.func, cst.Attribute) and node.func.attr.value == "init_module":
            walk.facts.init_module = True
