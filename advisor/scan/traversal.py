"""A batched libcst traversal that reads the tree without rebuilding it.

libcst's `visit_batched` goes through `CSTNode.visit`, which rebuilds and
re-validates every node it passes, also for visitors that change nothing:
walking a file cost twice its parse. `visit_batched` here calls the same
`visit_<Node>` / `leave_<Node>` methods of the same visitors, in the same
order, on the same nodes (libcst's own child order, read from each node
class's `_visit_and_replace_children`), and creates nothing. Whitespace and
punctuation nodes, which no visitor of ours reads, are not entered.
"""
from __future__ import annotations

import libcst as cst

TRIVIA_MODULES = ("libcst._nodes.whitespace", "libcst._nodes.op")
_FIELDS: dict[type, tuple[str, ...]] = {}
_TEMPLATES: dict[tuple, dict] = {}  # visitor classes -> node class -> plan template (see _template)
_UNSET = object()


class _NodeClasses(dict):
    """class -> is it a libcst node, asked once per class (CSTNode is an ABC: `isinstance`
    against it is the slow path, and the traversal asks it for every field it passes)."""

    def __missing__(self, cls: type) -> bool:
        self[cls] = is_node = issubclass(cls, cst.CSTNode)
        return is_node


IS_NODE = _NodeClasses()


def child_fields(cls: type) -> tuple[str, ...]:
    """The fields libcst visits on `cls`, in its order (the order of the source).

    Each field is visited as `visit_*(self, "field", self.field, visitor)`, so its
    name is a string constant of `_visit_and_replace_children`, and CPython keeps
    constants in the order the code first uses them.
    """
    fields = _FIELDS.get(cls)
    if fields is None:
        names = getattr(cls, "__dataclass_fields__", {})
        consts = cls._visit_and_replace_children.__code__.co_consts
        fields = _FIELDS[cls] = tuple(dict.fromkeys(c for c in consts if isinstance(c, str) and c in names))
    return fields


def children(node: cst.CSTNode):
    """The nodes `node` holds, in libcst's order (a whitespace or punctuation node is not entered)."""
    if type(node).__module__ in TRIVIA_MODULES:
        return
    for field in child_fields(type(node)):
        child = getattr(node, field)
        kind = type(child)
        if kind is tuple or kind is list:
            yield from (item for item in child if IS_NODE[type(item)])
        elif IS_NODE[kind]:
            yield child


def visit_batched(node: cst.CSTNode, visitors) -> None:
    """Run every visitor's `visit_<Node>` on entering and `leave_<Node>` on leaving each node,
    and its attribute visitors (`visit_If_orelse`, `leave_If_orelse`) around a field that holds
    something (libcst calls some of them for an empty `None` field and not others)."""
    _Traversal(visitors).visit(node)


class _Traversal:
    """One traversal's plans per node class: the class-level templates bound to these visitors."""

    def __init__(self, visitors):
        self.visitors = visitors
        self.classes = tuple(type(v) for v in visitors)
        self.templates = _TEMPLATES.setdefault(self.classes, {})
        self.plans: dict[type, tuple | None] = {}

    def _plan(self, cls: type) -> tuple | None:
        """(visit methods, fields, leave methods) for `cls`, each field with its attribute
        visitors (field, visits, leaves); None for a node nobody reads."""
        template = self.templates.get(cls, _UNSET)
        if template is _UNSET:
            template = self.templates[cls] = _template(self.classes, cls)
        plan = None if template is None else (
            self._bind(template[0]), tuple((f, self._bind(v), self._bind(lv)) for f, v, lv in template[1]),
            self._bind(template[2]))
        self.plans[cls] = plan
        return plan

    def _bind(self, functions: tuple) -> tuple:
        return tuple(function.__get__(self.visitors[i]) for i, function in functions)

    def visit(self, node: cst.CSTNode) -> None:
        cls = type(node)
        plan = self.plans.get(cls, _UNSET)
        if plan is _UNSET:
            plan = self._plan(cls)
        if plan is None:
            return
        visits, fields, leaves = plan
        for method in visits:
            method(node)
        for field, field_visits, field_leaves in fields:
            child = getattr(node, field)
            if child is None:
                continue
            for method in field_visits:
                method(node)
            kind = type(child)
            if kind is tuple or kind is list:
                for item in child:
                    if IS_NODE[type(item)]:
                        self.visit(item)
            elif IS_NODE[kind]:
                self.visit(child)
            for method in field_leaves:
                method(node)
        for method in leaves:
            method(node)


def _template(classes: tuple, cls: type) -> tuple | None:
    """What `_Traversal._plan` binds, as (visitor index, function) pairs, for visitors of `classes`."""
    name = cls.__name__
    visits, leaves = _functions(classes, name)
    if not visits and not leaves and cls.__module__ in TRIVIA_MODULES:
        return None
    return visits, tuple((field, *_functions(classes, f"{name}_{field}")) for field in child_fields(cls)), leaves


def _functions(classes: tuple, suffix: str) -> tuple[tuple, tuple]:
    return tuple(tuple((i, f) for i, c in enumerate(classes) if (f := _function(c, prefix + suffix)) is not None)
                 for prefix in ("visit_", "leave_"))


def _function(cls: type, name: str):
    """The class's method `name`, unless it is one of libcst's empty stubs."""
    function = getattr(cls, name, None)
    return None if function is None or getattr(function, "_is_no_op", False) else function
