"""Static values of expressions: literals, conditionals of literals, dtypes.

Anything else is `NOT_STATIC`: the checker never guesses a runtime value.
"""
from __future__ import annotations

from collections.abc import Callable

import libcst as cst

from advisor.facts import NOT_STATIC

FLOAT32_MAX = 3.4028234663852886e38
FP32_DTYPES = ("torch.float32", "torch.float", "torch.float64", "torch.double")
INT_DTYPES = ("torch.long", "torch.int64", "torch.int32", "torch.int", "torch.int16", "torch.int8",
              "torch.uint8", "torch.bool")


def literal(node: cst.BaseExpression, qualify: Callable[[cst.BaseExpression], str | None]):
    """The Python value of a literal (or a dtype/finfo constant), else NOT_STATIC."""
    if isinstance(node, (cst.SimpleString, cst.ConcatenatedString)):
        value = node.evaluated_value
        return value if isinstance(value, str) else NOT_STATIC
    if isinstance(node, cst.Integer):
        return int(node.value.replace("_", ""), 0)
    if isinstance(node, cst.Float):
        return float(node.value.replace("_", ""))
    if isinstance(node, cst.Name) and node.value in ("True", "False", "None"):
        return {"True": True, "False": False, "None": None}[node.value]
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, (cst.Minus, cst.Plus)):
        inner = literal(node.expression, qualify)
        if isinstance(inner, (int, float)) and not isinstance(inner, bool):
            return -inner if isinstance(node.operator, cst.Minus) else inner
        return NOT_STATIC
    if isinstance(node, cst.Attribute) and node.attr.value in ("min", "max") and isinstance(node.value, cst.Call):
        # torch.finfo(torch.float32).min: the float32 extremes overflow fp16
        if qualify(node.value.func) == "torch.finfo" and node.value.args:
            dtype = qualify(node.value.args[0].value)
            if dtype in ("torch.float32", "torch.float"):
                return -FLOAT32_MAX if node.attr.value == "min" else FLOAT32_MAX
        return NOT_STATIC
    qualified = qualify(node) if isinstance(node, (cst.Name, cst.Attribute)) else None
    return qualified if qualified else NOT_STATIC


def branches(node: cst.BaseExpression) -> list[cst.BaseExpression]:
    """The leaf expressions a (nested) conditional expression can evaluate to."""
    if isinstance(node, cst.IfExp):
        return branches(node.body) + branches(node.orelse)
    return [node]
