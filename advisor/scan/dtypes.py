"""Dtype facts: what a function's names are known to hold, and which parameters reach them.

"int" covers integer and bool tensors (indices, counts, masks); "fp32" covers
fp32 and fp64 (autocast never changes a factory's dtype, and a tensor made
without a dtype is fp32). Anything else is unknown and may be half. Flows
record which parameters of the enclosing function an expression derives
from, so a call site can tell what its arguments do inside the callee.
"""
from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass, field

import libcst as cst

from advisor.fix.fp32 import UPCAST
from advisor.scan.opindex import IDENTIFIER_RE
from advisor.scan.traversal import children
from advisor.scan.values import FP32_DTYPES, INT_DTYPES

FACTORIES = frozenset({"torch.zeros", "torch.ones", "torch.empty", "torch.full", "torch.rand", "torch.randn",
                       "torch.eye", "torch.linspace", "torch.logspace"})
LIKE_FACTORIES = frozenset({"zeros_like", "ones_like", "empty_like", "full_like", "rand_like", "randn_like"})
NEW_FACTORIES = frozenset({"new_zeros", "new_ones", "new_empty", "new_full", "new_tensor"})
INT_FUNCTIONS = frozenset({"torch.arange", "torch.bincount", "torch.argmax", "torch.argmin", "torch.argsort",
                           "torch.nonzero", "torch.randint", "torch.randperm", "torch.searchsorted",
                           "torch.bucketize"})
INT_METHODS = frozenset({"long", "int", "bool", "short", "byte", "bincount", "argmax", "argmin", "argsort",
                         "nonzero"})
FP32_METHODS = frozenset({"float", "double"})
SAME_DTYPE_METHODS = frozenset({"clone", "detach", "contiguous", "view", "reshape", "flatten", "unsqueeze",
                                "squeeze", "t", "transpose", "permute", "expand", "repeat", "index_select",
                                "gather", "sum", "cumsum", "abs", "neg"})
CAST_METHODS = frozenset({"to", "type", "type_as", *FP32_METHODS, *INT_METHODS})
AUTOCAST_TO_HALF = frozenset({"matmul", "mm", "bmm", "addmm", "addbmm", "baddbmm", "linear", "conv1d", "conv2d",
                              "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "einsum",
                              "prelu", "chain_matmul", "multi_dot", "scaled_dot_product_attention"})


@dataclass
class DtypeFacts:
    """Per function: name -> "int"/"fp32", name -> parameter indices it derives from."""

    kinds: dict = field(default_factory=dict)
    flows: dict = field(default_factory=dict)
    unless: dict = field(default_factory=dict)  # name -> params: fp32 unless a caller passes them
    params: tuple = ()
    defaults: dict = field(default_factory=dict)  # parameter -> its string default (`aggr="max"`)

    def start(self, params: cst.Parameters) -> None:
        every = (*params.posonly_params, *params.params, *params.kwonly_params)
        names = [p.name.value for p in (*params.posonly_params, *params.params)]
        self.params = tuple(names)
        self.defaults = {p.name.value: p.default.evaluated_value for p in every
                         if isinstance(p.default, cst.SimpleString)}
        self.flows = {name: frozenset((i,)) for i, name in enumerate(names) if name != "self"}

    def assign(self, name: str, value: cst.BaseExpression, walk, branch: bool = False) -> None:
        """`name = value`; in a branch (if/for/while/try) the name may still hold what it held before."""
        kind, flows = self.of(value, walk), self.flows_of(value, walk)
        replaces_parameter = kind == "fp32" and name in self.params and self.params.index(name) not in flows
        if branch and not replaces_parameter:
            kind = kind if self.kinds.get(name) == kind else None
            flows = flows | self.flows.get(name, frozenset())
        for table, item in ((self.kinds, kind), (self.flows, flows)):
            if item:
                table[name] = item
            else:
                table.pop(name, None)
        if replaces_parameter:
            self.unless[name] = (name,)  # `if out is None: out = torch.zeros(...)`
        else:
            self.unless.pop(name, None)

    def unpack(self, name: str, branch: bool = False) -> None:
        """`a, name = f(...)`: what the name holds now is not known (in a branch: it may still hold the old)."""
        self.kinds.pop(name, None)
        self.unless.pop(name, None)
        if not branch:
            self.flows.pop(name, None)

    def flows_of(self, node: cst.BaseExpression, walk) -> frozenset:
        if not self.flows:
            return frozenset()
        if isinstance(node, cst.Name):
            return self.flows.get(node.value, frozenset())
        if isinstance(node, cst.Call):  # a factory's dtype comes from its dtype= (or its model), not its shape
            func, qualified = node.func, walk.qualify(node.func)
            dtype = next((a.value for a in node.args if a.keyword is not None and a.keyword.value == "dtype"), None)
            model = None
            if isinstance(func, cst.Attribute) and func.attr.value in NEW_FACTORIES:
                model = func.value
            elif (qualified or "").rsplit(".", 1)[-1] in LIKE_FACTORIES and node.args:
                model = node.args[0].value
            elif qualified not in FACTORIES and qualified not in INT_FUNCTIONS:
                model = node
            if model is not node:
                found = self.flows_of(dtype, walk) if dtype is not None else frozenset()
                return found | (self.flows_of(model, walk) if model is not None else frozenset())
            if not _keeps_dtype(func, qualified):
                return frozenset()  # `self.lin(x)`, a project function: the call decides its output's dtype
        found = frozenset()
        for word in words_in(node):
            found |= self.flows.get(word, frozenset())
        return found

    def of(self, node: cst.BaseExpression, walk, index_texts: Container[str] = frozenset()) -> str | None:
        """"int", "fp32" or None (unknown, may be half)."""
        if isinstance(node, cst.Name):
            return self.kinds.get(node.value)
        if isinstance(node, cst.Comparison):
            return "int"
        if isinstance(node, cst.Subscript):
            return self.of(node.value, walk)
        if isinstance(node, cst.BinaryOperation):
            left, right = self.of(node.left, walk), self.of(node.right, walk)
            if "fp32" in (left, right):
                return "fp32"  # promotion: fp32 with anything floating stays at least fp32
            return "int" if left == right == "int" else None
        if isinstance(node, cst.IfExp):
            body = self.of(node.body, walk)
            return body if body == self.of(node.orelse, walk) else None
        if isinstance(node, cst.Call):
            return self._call(node, walk, index_texts)
        return None

    def _dtype_argument(self, node: cst.Call, walk) -> tuple[bool, str | None]:
        """(a dtype was passed, what it is)."""
        for arg in node.args:
            if arg.keyword is not None and arg.keyword.value == "dtype":
                return True, self._dtype(arg.value, walk)
        return False, None

    def _dtype(self, node: cst.BaseExpression, walk) -> str | None:
        qualified = walk.qualify(node)
        if qualified in FP32_DTYPES:
            return "fp32"
        if qualified in INT_DTYPES:
            return "int"
        if isinstance(node, cst.Attribute) and node.attr.value == "dtype":
            return self.of(node.value, walk)  # `.to(acc.dtype)`: whatever acc holds
        if isinstance(node, cst.Name):
            return self.kinds.get(node.value)  # `.to(other)`, `.type_as(other)`
        return None

    def _call(self, node: cst.Call, walk, index_texts: Container[str]) -> str | None:
        passed, dtype = self._dtype_argument(node, walk)
        if passed:
            return dtype
        func = node.func
        qualified = walk.qualify(func)
        if qualified in FACTORIES:
            return "fp32"
        if qualified in INT_FUNCTIONS:
            return "fp32" if any(isinstance(a.value, cst.Float) for a in node.args) else "int"
        name = func.attr.value if isinstance(func, cst.Attribute) else (qualified or "").rsplit(".", 1)[-1]
        if name in LIKE_FACTORIES and node.args and (qualified or "").startswith("torch."):
            first = node.args[0].value
            if walk.code(first) in index_texts:
                return "int"  # ones_like(index) next to index: counts, not data
            return self.of(first, walk)
        if isinstance(func, cst.Name) and func.value == UPCAST:
            return "fp32"  # what the FP32 fix writes: fp32 whenever the input was half
        if not isinstance(func, cst.Attribute):
            return None
        return self._method(name, func.value, node, walk, index_texts)

    def _method(self, name: str, receiver: cst.BaseExpression, node: cst.Call, walk, index_texts: Container[str]
                ) -> str | None:
        """`receiver.name(...)`'s kind."""
        if name in FP32_METHODS and not node.args:
            return "fp32"
        if name in INT_METHODS:
            return "int"
        if name in ("to", "type", "type_as") and node.args:
            for arg in node.args:
                kind = self._dtype(arg.value, walk)
                if kind:
                    return kind
            if all(_is_device(arg, walk) for arg in node.args):
                return self.of(receiver, walk)  # `.to(device)` keeps the dtype
            return None
        if name in NEW_FACTORIES and walk.code(receiver) in index_texts:
            return "int"  # `batch.new_ones(n)` beside `batch`: counts, not data
        if name in NEW_FACTORIES or name in SAME_DTYPE_METHODS:
            return self.of(receiver, walk)
        return None


def words_in(node: cst.CSTNode) -> set:
    """The identifiers in an expression's code (its names, the words of its strings), read off
    the tree: writing the code out to search it cost a tenth of the whole scan."""
    words, stack = set(), [node]
    while stack:
        item = stack.pop()
        if isinstance(item, cst.Name):
            words.add(item.value)
        elif isinstance(item, (cst.SimpleString, cst.FormattedStringText)):
            words.update(IDENTIFIER_RE.findall(item.value))
        else:
            stack.extend(children(item))
    return words


class CodeTexts:
    """The code of some expressions, written out only when first asked (most call sites never ask)."""

    def __init__(self, walk, nodes):
        self._walk, self._nodes, self._texts = walk, nodes, None

    def __contains__(self, text: str) -> bool:
        if self._texts is None:
            self._texts = frozenset(self._walk.code(node) for node in self._nodes)
        return text in self._texts


def _keeps_dtype(func: cst.BaseExpression, qualified: str | None) -> bool:
    """Does a call's result take its dtype from its arguments (`x.view(...)`, `torch.cat`), so that a
    caller's fp32 or integer data stays that? Modules, project functions and autocast's half ops do not."""
    if qualified:
        return qualified.startswith("torch.") and qualified.rsplit(".", 1)[-1] not in AUTOCAST_TO_HALF
    return isinstance(func, cst.Attribute) and func.attr.value in (SAME_DTYPE_METHODS | CAST_METHODS)


def _is_device(arg: cst.Arg, walk) -> bool:
    value = arg.value
    if arg.keyword is not None:
        return arg.keyword.value in ("device", "non_blocking", "copy")
    if isinstance(value, cst.SimpleString):
        return True
    text = walk.code(value)
    return text.endswith("device") or text.endswith(".device")
