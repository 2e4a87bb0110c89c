"""Records the op sites the catalogue's patterns name, with the dtype facts that judge them.

A site keeps what settles it later: whether its data is integer, whether it
computes in fp32/fp64 (fp32 inputs by construction or cast, an fp32
accumulator), whether it sits in an autocast-disabled region, and which of
the enclosing function's parameters reach it (for summaries at call sites).
"""
from __future__ import annotations

import libcst as cst

from advisor import lightning
from advisor.checks.ops import pattern_matches
from advisor.facts import OpSite
from advisor.scan.opindex import OpIndex
from advisor.scan.values import FP32_DTYPES, literal
from advisor.scan.walk import Recorder, Walk

INDEX_KEYWORDS = ("index", "idx", "batch")
NOT_DATA_KEYWORDS = frozenset({*INDEX_KEYWORDS, "dim", "dim_size", "size", "reduce", "edge_index", "ptr", "dtype",
                               "include_self", "alpha", "accumulate", "out"})
NON_ACCUMULATING = frozenset({"max", "min", "amax", "amin"})
NON_ACCUMULATING_CLASSES = ("MaxAggregation", "MinAggregation")
NOT_PROJECT_ROOTS = frozenset({"torch", "builtins", "typing", "abc", *lightning.LIGHTNING_ROOTS})  # bases that
# never derive from a catalogued one such as MessagePassing


class OpRecorder(Recorder):
    def __init__(self, walk: Walk, index: OpIndex):
        super().__init__(walk)
        self.index = index

    def visit_Call(self, node: cst.Call) -> None:
        self._super_init(node)
        walk, index = self.walk, self.index
        qualified = walk.qualify(node.func)
        func = node.func
        receiver = func.value if isinstance(func, cst.Attribute) else None
        if qualified is None and receiver is not None and walk.is_self(receiver):
            qualified = walk.classes[-1].info.attributes.get(func.attr.value)  # self.criterion = nn.BCELoss()
        if qualified:
            if not index.matches_function(qualified):
                return
            site = OpSite(op=qualified, path=walk.path, span=None, kind="function")
            receiver = None
        elif receiver is not None:
            name = func.attr.value
            base = (self._subclass_base(name) or self._inherited_base(name)) if walk.is_self(receiver) else None
            if base:
                if walk.classes[-1].info.accumulates is False:
                    return  # MessagePassing with aggr="max"/"min": propagate accumulates nothing
                site = OpSite(op=f"{base}.{name}", path=walk.path, span=None, kind="subclass")
                receiver = None
            elif name in index.methods and not walk.is_self(receiver):
                site = OpSite(op=f"Tensor.{name}", path=walk.path, span=None, kind="method")
            else:
                return
        else:
            return
        positional = [arg for arg in node.args if arg.keyword is None and not arg.star]
        keyed = [(f"#{position}", arg) for position, arg in enumerate(positional)]
        keyed += [(arg.keyword.value, arg) for arg in node.args if arg.keyword is not None]
        params = walk.function.dtypes.params if walk.function else ()
        for key, arg in keyed:
            site.keywords[key] = literal(arg.value, walk.qualify)
            if isinstance(arg.value, cst.Name) and arg.value.value in params:
                site.parameters += ((key, params.index(arg.value.value)),)
        site.keyword_names = tuple(arg.keyword.value for arg in node.args if arg.keyword is not None)
        if not any(pattern_matches(pattern, site) for pattern in index.patterns):
            return  # e.g. `.sum()` without the fp16 `dtype=` its rule is about: no fact worth a position
        self._judge_dtypes(site, node, receiver)
        self._add(site, node, walk.call_ordinal)

    def _judge_dtypes(self, site: OpSite, node: cst.Call, receiver: cst.BaseExpression | None) -> None:
        walk = self.walk
        function = walk.function
        data = _data_arguments(site, node)
        index_texts = frozenset(walk.code(arg.value) for arg in node.args if arg.keyword is None
                                or arg.keyword.value in INDEX_KEYWORDS)
        kinds = [walk.function.dtypes.of(value, walk, index_texts) if function else walk.dtype_of(value)
                 for value in data]
        receiver_kind = walk.dtype_of(receiver) if receiver is not None else None
        first = kinds[0] if kinds else None
        site.integer = receiver_kind == "int" if receiver is not None else first == "int"
        site.autocast_off = walk.autocast_off > 0
        dtype = site.keywords.get("dtype")
        casts = "fp32" in kinds
        if receiver is None:
            site.in_fp32_region = dtype in FP32_DTYPES or casts
        else:
            no_inputs = not data  # `x.float().inverse()`: the receiver is the only input
            site.in_fp32_region = dtype in FP32_DTYPES or (receiver_kind == "fp32" and (casts or no_inputs))
            unless = function.dtypes.unless.get(receiver.value) if function and isinstance(receiver, cst.Name) else None
            if site.in_fp32_region and unless:
                site.safe_unless = unless  # `out` made fp32 here unless the caller passes one
        if function:
            flows = frozenset()
            for value in (*data, *([receiver] if receiver is not None else [])):
                flows |= function.dtypes.flows_of(value, walk)
            site.flows = tuple(sorted(flows))

    def _super_init(self, node: cst.Call) -> None:
        """`super().__init__(aggr=...)` (or `kwargs.setdefault("aggr", ...)` before it) of a MessagePassing
        subclass: does its aggregation accumulate? A subclass that chooses none inherits its base's choice."""
        walk = self.walk
        func = node.func
        if not (walk.classes and walk.function and walk.function.info.qualname.endswith("__init__")
                and isinstance(func, cst.Attribute)):
            return
        info = walk.classes[-1].info
        if func.attr.value == "setdefault" and not info.aggr_set and len(node.args) == 2 and \
                literal(node.args[0].value, walk.qualify) == "aggr":
            aggr = node.args[1].value
        elif func.attr.value == "__init__" and isinstance(func.value, cst.Call) and \
                walk.code(func.value.func) == "super":
            direct = any(base in self.index.subclass_methods for base in walk.classes[-1].bases)
            aggr = next((a.value for a in node.args if a.keyword is not None and a.keyword.value == "aggr"),
                        next((a.value for a in node.args if a.keyword is None and not a.star), None) if direct
                        else None)  # a project base's first parameter need not be the aggregation
        else:
            return
        if aggr is None:
            return
        info.aggr_set = True
        if isinstance(aggr, cst.Attribute) and walk.is_self(aggr.value):
            info.aggr_attribute, info.accumulates = aggr.attr.value, None  # the concrete class's attribute decides
        else:
            info.aggr_attribute, info.accumulates = None, self._accumulates(aggr, node)

    def visit_Assign(self, node: cst.Assign) -> None:
        """Class-body `aggr = "max"`: what `super().__init__(aggr=self.aggr)` in a base picks up."""
        walk = self.walk
        if walk.classes and not walk.functions and len(node.targets) == 1 and \
                isinstance(node.targets[0].target, cst.Name) and _aggregation_like(node.value):
            judged = self._accumulates(node.value, node)
            walk.classes[-1].info.attribute_accumulates[node.targets[0].target.value] = judged

    def _accumulates(self, aggr: cst.BaseExpression, node: cst.CSTNode) -> bool | None:
        walk = self.walk
        if isinstance(aggr, (cst.List, cst.Tuple)):  # judged per member: any accumulating one counts
            members = [self._accumulates(e.value, node) for e in aggr.elements]
            return True if True in members else (None if None in members else False)
        if isinstance(aggr, cst.Call):
            name = (walk.qualify(aggr.func) or walk.code(aggr.func)).rsplit(".", 1)[-1]
            return None if not name.endswith("Aggregation") else name not in NON_ACCUMULATING_CLASSES
        value = literal(aggr, walk.qualify)
        if isinstance(aggr, cst.Name) and not isinstance(value, str):
            value = self._default_of(aggr.value)  # `aggr=aggr` with `def __init__(..., aggr="max")`
        return (value not in NON_ACCUMULATING) if isinstance(value, str) else None

    def _default_of(self, name: str):
        return self.walk.function.dtypes.defaults.get(name) if self.walk.function else None

    def _subclass_base(self, method: str) -> str | None:
        for cls in reversed(self.walk.classes):
            for base in cls.bases:
                if method in self.index.subclass_methods.get(base, ()):
                    return base
        return None

    def leave_Assign(self, original_node: cst.Assign) -> None:
        """`edge_index, edge_weight = f(...)`: unpacked names hold what f returns, whatever they held."""
        walk, function = self.walk, self.walk.function
        if function is None:
            return
        for target in original_node.targets:
            if isinstance(target.target, (cst.Tuple, cst.List)):
                for element in target.target.elements:
                    if isinstance(element.value, cst.Name):
                        function.dtypes.unpack(element.value.value, walk.branch_depth > function.branch_depth)

    def _inherited_base(self, method: str) -> str | None:
        """A method of a catalogued base (`propagate`) called in a class whose base is a project class:
        recorded under that catalogued base; the project-wide judgement keeps it only when the class
        really derives from it."""
        cls = self.walk.classes[-1]
        if not any(base and base.split(".")[0] not in NOT_PROJECT_ROOTS for base in cls.bases):
            return None
        return next((base for base, methods in self.index.subclass_methods.items() if method in methods), None)

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if isinstance(node.operator, cst.Add) and self.index.matches_function("operator.add"):
            for side in (node.left, node.right):
                value = literal(side, self.walk.qualify)
                if not isinstance(value, float):
                    continue
                site = OpSite(op="operator.add", path=self.walk.path, span=None, kind="function",
                              keywords={"#0": value}, detail=self.walk.code(side))
                if any(pattern_matches(pattern, site) for pattern in self.index.patterns):
                    self._add(site, side, ("left" if side is node.left else "right", self.walk.operation_ordinal))

    def _add(self, site: OpSite, node: cst.CSTNode, anchor: int | tuple) -> None:
        """`anchor`: the call's ordinal, or (side, ordinal) of the binary operation the operand is part of."""
        walk = self.walk
        site.function = walk.function.qualname if walk.function else None
        site.context = walk.context
        walk.facts.ops.append(site)
        ordinal = walk.statement_ordinals[-1] if walk.statement_ordinals else None
        walk.op_pending.append((site, anchor, node, ordinal, walk.statement))


def _aggregation_like(value: cst.BaseExpression) -> bool:
    """A string, a list of strings or an `...Aggregation()` instance: what `aggr=` takes."""
    if isinstance(value, (cst.List, cst.Tuple)):
        return bool(value.elements) and all(_aggregation_like(e.value) for e in value.elements)
    if isinstance(value, cst.Call):
        func = value.func
        name = func.attr.value if isinstance(func, cst.Attribute) else getattr(func, "value", "")
        return isinstance(name, str) and name.endswith("Aggregation")
    return isinstance(value, cst.SimpleString)


def _data_arguments(site: OpSite, node: cst.Call) -> list:
    """The arguments that carry the data an op computes on (not dims, indices, sizes).

    Methods: `x.scatter_add_(dim, index, src)`, `index_add_(dim, index, source)`: from the third on.
    Functions: `scatter(src, index, ...)`, `torch.scatter_add(input, dim, index, src)`: the first, and
    from the fourth on. `propagate(edge_index, x=...)`: its keywords.
    """
    positional = [arg.value for arg in node.args if arg.keyword is None and not arg.star]
    if site.kind == "method":
        chosen = positional[2:]
    elif site.kind == "subclass":
        chosen = []
    else:
        chosen = positional[:1] + positional[3:]
    return chosen + [arg.value for arg in node.args if arg.keyword is not None
                     and arg.keyword.value not in NOT_DATA_KEYWORDS]
