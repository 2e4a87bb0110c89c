"""Records call edges: calls from a function to what may be another project function.

Each edge keeps, per argument, which of the caller's parameters reach it and
its dtype fact, so a summary of the callee ("accumulates its argument 0")
can be judged at this call. Calls into libraries and builtins are not edges.
"""
from __future__ import annotations

import builtins

import libcst as cst

from advisor.facts import CallEdge
from advisor.scan.dtypes import CodeTexts
from advisor.scan.opindex import EXTERNAL_ROOTS
from advisor.scan.values import literal
from advisor.scan.walk import Recorder

BUILTINS = frozenset(dir(builtins))


class CallRecorder(Recorder):
    def visit_Call(self, node: cst.Call) -> None:
        walk = self.walk
        function = walk.function
        if function is None:
            return
        callee = self._callee(node.func)
        if callee is None:
            return
        dtypes = function.dtypes
        others = CodeTexts(walk, [a.value for a in node.args])  # `ones_like(index)` beside `index`: counts
        args = tuple((tuple(sorted(dtypes.flows_of(a.value, walk))), dtypes.of(a.value, walk, others),
                      literal(a.value, walk.qualify)) for a in node.args if a.keyword is None and not a.star)
        keywords = tuple((a.keyword.value, tuple(sorted(dtypes.flows_of(a.value, walk))),
                          dtypes.of(a.value, walk, others), literal(a.value, walk.qualify))
                         for a in node.args if a.keyword is not None)
        edge = CallEdge(callee=callee, text=walk.code(node.func), args=args, keywords=keywords,
                        autocast_off=walk.autocast_off > 0)
        function.info.calls.append(edge)
        walk.call_pending.append((edge, walk.call_ordinal, node))

    def _callee(self, func: cst.BaseExpression):
        walk = self.walk
        if isinstance(func, cst.Attribute) and walk.is_self(func.value):
            return f"self.{func.attr.value}"
        if walk.is_self(func):
            return "self.forward"  # `self(x)` in a step runs the module's forward
        qualified = walk.qualify(func)
        if qualified:
            return None if qualified.split(".")[0] in EXTERNAL_ROOTS else qualified
        if isinstance(func, cst.Name) and func.value not in BUILTINS:
            return f"{walk.module_name}.{func.value}"
        return None
