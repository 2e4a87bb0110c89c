"""Name resolution through a file's imports: one light pass, no libcst metadata.

libcst's QualifiedNameProvider costs ~8x a parse (linters.md §6); a training
script only needs its imports, `as` aliases and simple `X = a.b` rebinds.
"""
from __future__ import annotations

import libcst as cst

from advisor.scan.bindings import absolute_module, canonical


def dotted(node: cst.BaseExpression) -> str | None:
    """`a.b.c` for a Name/Attribute chain, else None."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr.value}" if base else None
    return None


class Scopes:
    """A stack of name -> qualified-name maps (module, then each function)."""

    def __init__(self, module: str, aliases: dict[str, str], is_package: bool = False):
        self.module = module
        self.is_package = is_package  # an __init__.py: `from . import x` reads the module itself
        self.aliases = aliases  # re-exports -> canonical names, from the catalogue
        self.stack: list[dict[str, str]] = [{}]

    def push(self) -> None:
        self.stack.append({})

    def pop(self) -> None:
        self.stack.pop()

    def bind(self, name: str, qualified: str) -> None:
        self.stack[-1][name] = self.canonical(qualified)

    def lookup(self, name: str) -> str | None:
        for scope in reversed(self.stack):
            if name in scope:
                return scope[name]
        return None

    def canonical(self, qualified: str) -> str:
        return canonical(qualified, self.aliases)

    def qualify(self, node: cst.BaseExpression) -> str | None:
        """Qualified name of a Name/Attribute whose first part is imported or bound."""
        name = dotted(node)
        if not name:
            return None
        head, _, rest = name.partition(".")
        base = self.lookup(head)
        if base is None:
            return None
        return self.canonical(f"{base}.{rest}" if rest else base)

    def add_import(self, node: cst.Import) -> None:
        for alias in node.names:
            full = dotted(alias.name)
            if not full:
                continue
            if alias.asname and isinstance(alias.asname.name, cst.Name):
                self.bind(alias.asname.name.value, full)
            else:
                head = full.split(".")[0]
                self.bind(head, head)

    def absolute(self, node: cst.ImportFrom) -> str:
        """The module an import-from reads, relative dots resolved against this file's package."""
        return absolute_module(self.module, self.is_package, len(node.relative),
                               dotted(node.module) if node.module else None)

    def add_import_from(self, node: cst.ImportFrom) -> None:
        if isinstance(node.names, cst.ImportStar):
            return
        base = self.absolute(node)
        for alias in node.names:
            name = dotted(alias.name)
            if not name:
                continue
            local = alias.asname.name.value if alias.asname and isinstance(alias.asname.name, cst.Name) else name
            self.bind(local, f"{base}.{name}" if base else name)
