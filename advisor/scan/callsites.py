"""Could the libcst pass record an op site in a file? Told from Python's parse, before that pass.

The op recorder records a site only at a call whose callee a catalogue pattern names (a
function or class the file's imports resolve to, a Tensor method, a method of a catalogued
base class such as `propagate`), or at a `+` with a float operand. A trigger word anywhere
else records nothing: an import the file never calls, `isinstance(m, MessagePassing)`,
`torch.matmul` where only `torch_sparse.matmul` is catalogued, an `eps=1e-8` default. Such a
file keeps the bindings Python's parse gives it, and a wrapper round still parses it when it
calls a project function that accumulates.

The test is wider than the recorder, never narrower: a name counts with every binding any
scope gives it (imports and `alias = module.name` anywhere in the file), and a class whose
base is named like a catalogued one is kept for what its `__init__` says about aggregation.
"""
from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from advisor.scan.bindings import absolute_module, canonical, dotted_name
from advisor.scan.pytree import PythonTree

if TYPE_CHECKING:
    from advisor.scan.opindex import OpIndex


def may_record_op(tree: PythonTree, module: str, is_package: bool, index: OpIndex) -> bool:
    """Is there a call (or a float `+`) in `tree` that the op recorder could record as a site?"""
    nodes = tree.nodes
    methods = index.methods | index.base_methods
    calls = nodes.get(ast.Call, ())
    if any(type(call.func) is ast.Attribute and call.func.attr in methods for call in calls):
        return True
    if index.matches_function("operator.add") and any(
            type(node.op) is ast.Add and (_float_like(node.left) or _float_like(node.right))
            for node in nodes.get(ast.BinOp, ())):
        return True
    bound = _bindings(nodes, module, is_package, index.aliases)
    bases = [base for node in nodes.get(ast.ClassDef, ()) for base in node.bases]
    if any(name.rsplit(".", 1)[-1] in index.base_names for name in filter(None, map(dotted_name, bases))) or \
            not index.subclass_methods.keys().isdisjoint(_qualified(bases, bound, index.aliases)):
        return True  # its `__init__` may choose the aggregation that a subclass elsewhere inherits
    return any(map(index.matches_function, _qualified((call.func for call in calls), bound, index.aliases)))


def _qualified(expressions, bound: dict[str, set], aliases: dict) -> set:
    """Every qualified name the expressions that are dotted names may stand for."""
    names = set()
    for expression in expressions:
        name = dotted_name(expression)
        if name is not None:
            head, _, rest = name.partition(".")
            names.update(canonical(f"{base}.{rest}" if rest else base, aliases) for base in bound.get(head, ()))
    return names


def _bindings(nodes: dict, module: str, is_package: bool, aliases: dict) -> dict[str, set]:
    """Every qualified name each name may stand for, whatever the scope: imports, then aliases
    (`inv = torch.linalg.inv`) in source order."""
    bound: dict[str, set] = {}
    for node in nodes.get(ast.Import, ()):
        for alias in node.names:
            head = alias.name.split(".")[0]
            bound.setdefault(alias.asname or head, set()).add(alias.name if alias.asname else head)
    for node in nodes.get(ast.ImportFrom, ()):
        base = absolute_module(module, is_package, node.level, node.module)
        for alias in node.names:
            if alias.name != "*":
                bound.setdefault(alias.asname or alias.name, set()).add(f"{base}.{alias.name}" if base else alias.name)
    assigns = sorted((node.lineno, node.col_offset, node.targets[0].id, dotted_name(node.value))
                     for node in nodes.get(ast.Assign, ())
                     if len(node.targets) == 1 and type(node.targets[0]) is ast.Name)
    for _, _, target, value in assigns:  # in source order, as the walk binds them
        if value is not None:
            head, _, rest = value.partition(".")
            found = {canonical(f"{base}.{rest}" if rest else base, aliases) for base in bound.get(head, ())}
            bound.setdefault(target, set()).update(found)
    return bound


def _float_like(node: ast.expr) -> bool:
    """An operand the recorder's `literal` may read as a float: `1e-8`, `-1e-8`, `torch.finfo(...).min`."""
    if type(node) is ast.UnaryOp:
        node = node.operand
    return (type(node) is ast.Constant and type(node.value) is float) or (
        type(node) is ast.Attribute and type(node.value) is ast.Call)
