"""A module's names from Python's parse alone: what it imports, rebinds, star-imports and exports.

A file with nothing worth libcst's parse still takes part in module resolution:
`pkg/__init__.py` re-exports `from pkg.ops import *`, `ops.py` re-exports a
helper it imports. This reads those module-level bindings the way the libcst
walk (`walk._Enter`) records them, without libcst: the module level, class
bodies (which share its scope), never function bodies.
"""
from __future__ import annotations

import ast

COMPOUND_BODIES = ("body", "orelse", "finalbody")


def canonical(qualified: str, aliases: dict[str, str]) -> str:
    """Map a re-exported spelling to its canonical one (longest prefix wins)."""
    parts = qualified.split(".")
    for cut in range(len(parts), 0, -1):
        prefix = ".".join(parts[:cut])
        if prefix in aliases:
            return ".".join([aliases[prefix], *parts[cut:]])
    return qualified


def absolute_module(module: str, is_package: bool, level: int, name: str | None) -> str:
    """The module an import-from reads, `level` relative dots resolved against `module`'s package."""
    base = name or ""
    if level:
        package = module.split(".")
        package = package[: max(len(package) - level + is_package, 0)]
        base = ".".join(p for p in [*package, base] if p)
    return base


def with_head(name: str, base: str, aliases: dict[str, str]) -> str:
    """The dotted `name` with its first part standing for `base` (`F.softmax`, F bound to torch.nn.functional)."""
    _, _, rest = name.partition(".")
    return canonical(f"{base}.{rest}" if rest else base, aliases)


def imported_names(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[tuple[str, str]]:
    """(local name, qualified name) of each name an import binds; a star import binds none by name."""
    if isinstance(node, ast.Import):
        return [(alias.asname, alias.name) if alias.asname else (alias.name.split(".")[0],) * 2
                for alias in node.names]
    base = absolute_module(module, is_package, node.level, node.module)
    return [(alias.asname or alias.name, f"{base}.{alias.name}" if base else alias.name)
            for alias in node.names if alias.name != "*"]


def module_bindings(tree: ast.Module, module: str, is_package: bool, aliases: dict[str, str]
                    ) -> tuple[dict[str, str], tuple, tuple | None]:
    """(imported or rebound name -> qualified name, star-imported modules, a static `__all__`)."""
    reader = _Reader(module, is_package, aliases)
    reader.read(tree.body, in_class=False)
    return reader.bindings, tuple(reader.stars), reader.all_names


class _Reader:
    def __init__(self, module: str, is_package: bool, aliases: dict[str, str]):
        self.module, self.is_package, self.aliases = module, is_package, aliases
        self.scope: dict[str, str] = {}  # the module's scope as the walk's Scopes holds it
        self.bindings: dict[str, str] = {}  # what the file exports, as FileFacts.bindings
        self.stars: list[str] = []
        self.all_names: tuple | None = None

    def bind(self, name: str, qualified: str) -> None:
        self.scope[name] = canonical(qualified, self.aliases)

    def qualify(self, node: ast.expr) -> str | None:
        name = dotted_name(node)
        if not name:
            return None
        base = self.scope.get(name.partition(".")[0])
        return None if base is None else with_head(name, base, self.aliases)

    def read(self, statements: list, in_class: bool) -> None:
        for node in statements:
            if isinstance(node, ast.Import):
                for local, qualified in imported_names(node, self.module, self.is_package):
                    self.bind(local, qualified)
                self._exported(in_class)
            elif isinstance(node, ast.ImportFrom):
                self._import_from(node, in_class)
            elif isinstance(node, ast.Assign):
                self._assign(node, in_class)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                if node.name in self.scope:  # a local def named like an import hides it from here on
                    self.bind(node.name, f"{self.module}.{node.name}")
                if isinstance(node, ast.ClassDef):
                    self.read(node.body, in_class=True)
            else:  # if/for/while/with/try/match at this level: their bodies bind here too
                for field in COMPOUND_BODIES:
                    self.read(getattr(node, field, None) or [], in_class)
                for part in getattr(node, "handlers", None) or getattr(node, "cases", None) or []:
                    self.read(part.body, in_class)

    def _exported(self, in_class: bool) -> None:
        """After a module-level import, the module's names are what it exports (as the walk records them)."""
        if not in_class:
            self.bindings.update(self.scope)

    def _import_from(self, node: ast.ImportFrom, in_class: bool) -> None:
        if node.names[0].name == "*":
            if not in_class:
                self.stars.append(absolute_module(self.module, self.is_package, node.level, node.module))
            return
        for local, qualified in imported_names(node, self.module, self.is_package):
            self.bind(local, qualified)
        self._exported(in_class)

    def _assign(self, node: ast.Assign, in_class: bool) -> None:
        if len(node.targets) != 1 or not isinstance(node.targets[0], ast.Name):
            return
        target, value = node.targets[0].id, node.value
        qualified = self.qualify(value) if isinstance(value, (ast.Name, ast.Attribute)) else None
        if qualified:  # `MyTrainer = L.Trainer`: the module exports the class under the new name
            self.bind(target, qualified)
            if not in_class:
                self.bindings[target] = canonical(qualified, self.aliases)
        if target == "__all__" and not in_class:
            self.all_names = _static_names(value)


def dotted_name(node: ast.expr) -> str | None:
    """`a.b.c` for a chain of names, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted_name(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _static_names(value: ast.expr) -> tuple | None:
    if isinstance(value, (ast.List, ast.Tuple)):
        names = [e.value for e in value.elts if isinstance(e, ast.Constant) and isinstance(e.value, (str, bytes))]
        if len(names) == len(value.elts):
            return tuple(n for n in names if isinstance(n, str))
    return None
