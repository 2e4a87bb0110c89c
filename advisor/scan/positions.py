"""Source positions of one scanned file, each kind computed at most once and only on demand.

libcst's own positions cost more than its parse (they write the whole file out
again), so the scanner takes what it can from Python's parse, which already
holds positions: the k-th call (binary operation, simple statement line) that
libcst visits is the k-th in source order. Only other nodes (setting arguments
and literals) use libcst's positions, resolved once per file.
"""
from __future__ import annotations

import ast
from functools import cached_property

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from advisor.facts import Span
from advisor.scan.pytree import PythonTree
from advisor.scan.sourcefile import LINE_END_RE

COMPOUND_STATEMENTS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.If, ast.For, ast.AsyncFor,
                       ast.While, ast.With, ast.AsyncWith, ast.Try, ast.Match,
                       *((ast.TryStar,) if hasattr(ast, "TryStar") else ()))
SUITES = ("body", "orelse", "finalbody")


def _source_order(node: ast.AST) -> tuple:
    """libcst's visiting order: by start, an enclosing node before the nodes it holds."""
    return node.lineno, node.col_offset, -node.end_lineno, -node.end_col_offset


class Positions:
    """Where the recorded nodes of one file are, in the 1-based characters findings count."""

    def __init__(self, module: cst.Module, python: PythonTree, text: str):
        self.module = module
        self.python = python
        self.text = text
        self.op_nodes: dict = {}  # op site span -> (its call node, its simple statement line or None), for fixes

    # -- libcst's positions: for what Python's parse has no ordinal of ---------
    @cached_property
    def _libcst(self):
        return MetadataWrapper(self.module, unsafe_skip_copy=True).resolve(PositionProvider)

    def span(self, node: cst.CSTNode) -> Span:
        where = self._libcst[node]
        return Span(where.start.line, where.start.column + 1, where.end.line, where.end.column + 1)

    # -- Python's positions ----------------------------------------------------
    @cached_property
    def _lines(self) -> list[bytes]:
        return [line.encode("utf-8", "surrogatepass") for line in LINE_END_RE.split(self.text)]

    def _column(self, line: int, offset: int) -> int:
        """ast counts UTF-8 bytes, findings count characters (1-based)."""
        text = self._lines[line - 1] if line - 1 < len(self._lines) else b""
        return len(text[:offset].decode("utf-8", "replace")) + 1

    def ast_span(self, start: ast.AST, end: ast.AST | None = None) -> Span:
        """Python's extent of `start` (to the end of `end`)."""
        end = end or start
        return Span(start.lineno, self._column(start.lineno, start.col_offset),
                    end.end_lineno, self._column(end.end_lineno, end.end_col_offset))

    @property
    def tree(self) -> ast.AST:
        return self.python.tree

    @property
    def nodes(self) -> dict[type, list]:
        """Python's nodes by class (the fixes read them too)."""
        return self.python.nodes

    def of_class(self, *classes: type) -> list:
        """Python's nodes of exactly these classes, in source order."""
        return sorted((node for cls in classes for node in self.nodes.get(cls, ())), key=_source_order)

    @cached_property
    def _calls(self) -> list:
        return self.of_class(ast.Call)

    @cached_property
    def _binary_operations(self) -> list:
        return self.of_class(ast.BinOp)

    @cached_property
    def _statement_lines(self) -> list:
        """(first, last) statement of each simple statement line (statements joined by `;`,
        not the suite after a `:`), in source order."""
        groups = []
        for cls, nodes in self.nodes.items():
            if not any(name in cls._fields for name in SUITES):
                continue
            for node in nodes:
                for name in SUITES:
                    body = getattr(node, name, None)
                    if isinstance(body, list):
                        groups += _simple_lines(body)
        lines = [g for g in groups if not self._lines[g[0].lineno - 1][:g[0].col_offset].strip()]
        lines.sort(key=lambda g: (g[0].lineno, g[0].col_offset))
        return [(g[0], g[-1]) for g in lines]

    @cached_property
    def _strings(self) -> list:
        """(start, end) of every string literal, as (line, byte column) pairs."""
        literals = [node for node in self.nodes.get(ast.Constant, ()) if isinstance(node.value, (str, bytes))]
        return [((node.lineno, node.col_offset), (node.end_lineno, node.end_col_offset))
                for node in literals + self.nodes.get(ast.JoinedStr, [])]

    def in_string(self, line: int, column: int) -> bool:
        """Whether the byte `column` of `line` lies inside a string literal."""
        return any(start <= (line, column) < end for start, end in self._strings)

    def call_span(self, ordinal: int, node: cst.Call, total: int) -> Span:
        """The `ordinal`-th call of the `total` libcst visited."""
        calls = self._calls
        return self.ast_span(calls[ordinal]) if len(calls) == total else self.span(node)

    def operand_span(self, ordinal: int, side: str, node: cst.BaseExpression, total: int) -> Span:
        """The left or right operand of the `ordinal`-th binary operation of the `total` libcst visited
        (libcst's own span for a parenthesized operand: Python's excludes the parentheses)."""
        operations = self._binary_operations
        if len(operations) != total or getattr(node, "lpar", None):
            return self.span(node)
        return self.ast_span(getattr(operations[ordinal], side))

    def statement_span(self, ordinal: int, node: cst.CSTNode, total: int) -> Span:
        """The `ordinal`-th simple statement line of the `total` libcst visited."""
        lines = self._statement_lines
        return self.ast_span(*lines[ordinal]) if len(lines) == total else self.span(node)


def _simple_lines(body: list) -> list:
    """The statements of one suite grouped by the line they share."""
    groups, group = [], None
    for statement in body:
        if not isinstance(statement, ast.stmt) or isinstance(statement, COMPOUND_STATEMENTS):
            group = None
        elif group is not None and statement.lineno == group[-1].end_lineno:
            group.append(statement)
        else:
            group = [statement]
            groups.append(group)
    return groups
