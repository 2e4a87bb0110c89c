"""Python's parse of one file and what the scanner reads off it, each gathered once.

The pre-filter asks which words the code (not its docstrings, comments and
strings) uses; the positions and the fixes ask for nodes by class. Both come
from one pass over the tree, made only for a file whose text names a trigger.
"""
from __future__ import annotations

import ast
from collections import defaultdict
from functools import cached_property

DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
BOUND_NAMES = ((ast.ExceptHandler, "name"), (ast.Global, "names"), (ast.Nonlocal, "names"), (ast.MatchAs, "name"),
               (ast.MatchStar, "name"), (ast.MatchMapping, "rest"), (ast.MatchClass, "kwd_attrs"))


class PythonTree:
    def __init__(self, tree: ast.AST):
        self.tree = tree

    @cached_property
    def nodes(self) -> dict[type, list]:
        """The tree's nodes by class, gathered in one pass."""
        by_class: dict[type, list] = defaultdict(list)
        stack = [self.tree]
        while stack:
            node = stack.pop()
            by_class[type(node)].append(node)
            for name in node._fields:
                value = getattr(node, name, None)
                if type(value) is list:
                    stack.extend(item for item in value if isinstance(item, ast.AST))
                elif isinstance(value, ast.AST):
                    stack.append(value)
        return by_class

    @cached_property
    def words(self) -> frozenset:
        """The identifiers the code uses: names, attributes, imported modules and names, defined names,
        parameters and keywords. A word that only a docstring, a comment or a string holds is none of them."""
        nodes = self.nodes
        words = {node.id for node in nodes.get(ast.Name, ())}
        words.update(node.attr for node in nodes.get(ast.Attribute, ()))
        words.update(node.arg for cls in (ast.keyword, ast.arg) for node in nodes.get(cls, ()) if node.arg)
        words.update(node.name for cls in DEFINITIONS for node in nodes.get(cls, ()))
        for alias in nodes.get(ast.alias, ()):
            words.update(alias.name.split("."))
            if alias.asname:
                words.add(alias.asname)
        for node in nodes.get(ast.ImportFrom, ()):  # `from torch.linalg import inv`: inv is torch.linalg's
            if node.module:
                words.update(node.module.split("."))
        for cls, field in BOUND_NAMES:  # `except E as err`, `global x`, `case Point(x=px) as p`...
            for node in nodes.get(cls, ()):
                value = getattr(node, field)
                words.update(value if isinstance(value, list) else (value,) if value else ())
        return frozenset(words)
