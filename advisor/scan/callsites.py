"""Could the libcst pass record an op site in a file? Told from Python's parse, before that pass.

The op recorder records a site only at a call whose callee a catalogue pattern names (a
function or class the file's imports resolve to, a Tensor method, a method of a catalogued
base class such as `propagate`) with the arguments the pattern asks for, or at a `+` with a
float operand. A trigger anywhere else records nothing: an import the file never calls,
`isinstance(m, MessagePassing)`, `torch.matmul` where only `torch_sparse.matmul` is
catalogued, `x.sum(1)` where the rule is about `sum(dtype=torch.float16)`, an `eps=1e-8`
default. Such a file keeps the bindings Python's parse gives it, and a wrapper round still
parses it when it calls a project function that accumulates.

The test is wider than the recorder, never narrower: a name counts with every binding any
scope gives it (imports and `alias = module.name` anywhere in the file); an argument whose
value the recorder could read further than Python's parse tells (a name an import binds,
`torch.finfo(...).max`) may satisfy any condition; and a class whose base is named like a
catalogued one is kept for what its `__init__` says about aggregation.
"""
from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from advisor.checks.ops import condition_may_hold, pattern_names
from advisor.facts import NOT_STATIC, OpSite
from advisor.scan.bindings import dotted_name, imported_names, with_head
from advisor.scan.pytree import PythonTree

if TYPE_CHECKING:
    from advisor.scan.opindex import OpIndex

UNKNOWN = object()  # an argument's value that only the libcst pass can tell


def may_record_op(tree: PythonTree, module: str, is_package: bool, index: OpIndex) -> bool:
    """Is there a call (or a float `+`) in `tree` that the op recorder could record as a site?"""
    nodes = tree.nodes
    if index.matches_function("operator.add") and any(
            type(node.op) is ast.Add and (_float_like(node.left) or _float_like(node.right))
            for node in nodes.get(ast.BinOp, ())):
        return True
    bound = _bindings(nodes, module, is_package, index.aliases)
    bases = [base for node in nodes.get(ast.ClassDef, ()) for base in node.bases]
    if any(_last(dotted_name(base)) in index.base_names for base in bases) or \
            not index.subclass_methods.keys().isdisjoint(_qualified(bases, bound, index.aliases)):
        return True  # its `__init__` may choose the aggregation that a subclass elsewhere inherits
    attributes = _self_attributes(nodes, bound, index.aliases)
    return any(_may_be_site(call, bound, attributes, index) for call in nodes.get(ast.Call, ()))


def _may_be_site(call: ast.Call, bound: dict, attributes: dict, index: OpIndex) -> bool:
    """Could a pattern match `call`: one that names an op the callee may be, its condition on the arguments
    holding or unknown? (A class's pattern is matched by name: the constructor's arguments are not the call's.)"""
    sites = _named_ops(call.func, bound, attributes, index)
    if not sites:
        return False
    positional = [arg for arg in call.args if type(arg) is not ast.Starred]
    keyed = [(f"#{position}", arg) for position, arg in enumerate(positional)]
    keyed += [(keyword.arg, keyword.value) for keyword in call.keywords if keyword.arg is not None]
    values = {key: _literal(value, bound) for key, value in keyed}
    unknown = frozenset(key for key, value in values.items() if value is UNKNOWN)
    for site in sites:
        site.keywords = {key: value for key, value in values.items() if value is not UNKNOWN}
        if any(pattern_names(pattern, site) and (pattern.module is not None or
                                                 condition_may_hold(pattern, site, unknown))
               for pattern in index.patterns):
            return True
    return False


def _named_ops(func: ast.expr, bound: dict, attributes: dict, index: OpIndex) -> list[OpSite]:
    """The sites a call of `func` may be, as the recorder names them (whatever the receiver)."""
    qualified = _qualified([func], bound, index.aliases)
    if type(func) is ast.Attribute:
        if type(func.value) is ast.Name and func.value.id == "self":
            qualified |= attributes.get(func.attr, set())  # `self.criterion = nn.BCELoss()`
        sites = [OpSite(op=f"Tensor.{func.attr}", path="", span=None, kind="method")] \
            if func.attr in index.methods else []
        sites += [OpSite(op=f"{base}.{func.attr}", path="", span=None, kind="subclass")
                  for base, methods in index.subclass_methods.items() if func.attr in methods]
    else:
        sites = []
    return sites + [OpSite(op=name, path="", span=None, kind="function")
                    for name in qualified if index.matches_function(name)]


def _literal(node: ast.expr, bound: dict):
    """The value the recorder's `values.literal` reads off an argument, NOT_STATIC where it reads none,
    UNKNOWN where it may read one that Python's parse does not tell here."""
    kind = type(node)
    if kind is ast.Constant:
        return node.value if type(node.value) in (str, int, float, bool) or node.value is None else NOT_STATIC
    if kind is ast.UnaryOp and type(node.op) in (ast.USub, ast.UAdd):
        inner = _literal(node.operand, bound)
        if type(inner) in (int, float):
            return -inner if type(node.op) is ast.USub else inner
        return UNKNOWN if inner is UNKNOWN else NOT_STATIC
    if kind is ast.Attribute and node.attr in ("min", "max") and type(node.value) is ast.Call:
        return UNKNOWN  # torch.finfo(torch.float32).max
    if kind in (ast.Name, ast.Attribute):
        name = dotted_name(node)
        return UNKNOWN if name is not None and name.partition(".")[0] in bound else NOT_STATIC
    return NOT_STATIC


def _qualified(expressions, bound: dict[str, set], aliases: dict) -> set:
    """Every qualified name the expressions that are dotted names may stand for."""
    names = set()
    for expression in expressions:
        name = dotted_name(expression)
        if name is not None:
            names.update(with_head(name, base, aliases) for base in bound.get(name.partition(".")[0], ()))
    return names


def _self_attributes(nodes: dict, bound: dict, aliases: dict) -> dict[str, set]:
    """`self.name = callee(...)` anywhere: the qualified names each attribute's calls may run."""
    attributes: dict[str, set] = {}
    for node in nodes.get(ast.Assign, ()):
        target = node.targets[0]
        if len(node.targets) == 1 and type(target) is ast.Attribute and type(target.value) is ast.Name and \
                target.value.id == "self" and type(node.value) is ast.Call:
            attributes.setdefault(target.attr, set()).update(_qualified([node.value.func], bound, aliases))
    return attributes


def _bindings(nodes: dict, module: str, is_package: bool, aliases: dict) -> dict[str, set]:
    """Every qualified name each name may stand for, whatever the scope: imports, then aliases
    (`inv = torch.linalg.inv`) in source order."""
    bound: dict[str, set] = {}
    for node in (*nodes.get(ast.Import, ()), *nodes.get(ast.ImportFrom, ())):
        for local, qualified in imported_names(node, module, is_package):
            bound.setdefault(local, set()).add(qualified)
    for _, _, target, value in _aliases(nodes):
        if value is not None:
            found = {with_head(value, base, aliases) for base in bound.get(value.partition(".")[0], ())}
            if found:
                bound.setdefault(target, set()).update(found)
    return bound


def _aliases(nodes: dict) -> list[tuple]:
    """(line, column, name, dotted value or None) of each `name = ...`, in source order as the walk binds them."""
    return sorted((node.lineno, node.col_offset, node.targets[0].id, dotted_name(node.value))
                  for node in nodes.get(ast.Assign, ()) if len(node.targets) == 1 and type(node.targets[0]) is ast.Name)


def _float_like(node: ast.expr) -> bool:
    """An operand the recorder's `literal` may read as a float: `1e-8`, `-1e-8`, `torch.finfo(...).min`."""
    if type(node) is ast.UnaryOp:
        node = node.operand
    return (type(node) is ast.Constant and type(node.value) is float) or (
        type(node) is ast.Attribute and type(node.value) is ast.Call)


def calls_one_of(tree: PythonTree, names: frozenset) -> bool:
    """Does the code call (or subclass) something named in `names` (project wrappers and Trainer
    subclasses), by that name or an alias of it? A name only imported, re-exported, type-hinted or
    tested with `isinstance` gives the call-edge recorder nothing to record."""
    nodes = tree.nodes
    local = set(names)
    for node in (*nodes.get(ast.Import, ()), *nodes.get(ast.ImportFrom, ())):
        local.update(alias.asname for alias in node.names if alias.asname and _last(alias.name) in names)
    for _, _, target, value in _aliases(nodes):
        if value is not None and _last(value) in local:
            local.add(target)
    return any(_last(dotted_name(call.func)) in local for call in nodes.get(ast.Call, ())) or any(
        _last(dotted_name(base)) in local for node in nodes.get(ast.ClassDef, ()) for base in node.bases)


def _last(name: str | None) -> str | None:
    return name.rsplit(".", 1)[-1] if name else None
