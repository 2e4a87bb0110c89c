"""A file's code without its prose: docstrings and comments blanked out.

A trigger word in a docstring or a comment (`scatter` in "uses scatter to sum",
`1e-8` in "eps (float): 1e-8") calls nothing, so it must not make a file worth
libcst's parse. Blanking keeps every other character where it was: the
pre-filter's regexes (literal spellings such as `1e5` or `100000)`) read the code
as written. `# noqa` comments stay: a noqa naming a PRC code is a trigger.
"""
from __future__ import annotations

import ast
import re
from bisect import bisect_right
from collections.abc import Iterable

from advisor.scan.sourcefile import LINE_END_RE

SPLIT_LINES_RE = re.compile(f"({LINE_END_RE.pattern})")  # how Python ends lines, the ends kept by split()


def without_prose(text: str, nodes: Iterable[ast.AST]) -> str:
    """`text` with its docstrings (every string standing alone as a statement) and its comments
    (`# noqa` ones excepted) replaced by spaces; `nodes` are every node of Python's parse of it."""
    if '"""' not in text and "'''" not in text and "#" not in text:
        return text  # (a one-line string alone as a statement is rare enough to read as code)
    parts = SPLIT_LINES_RE.split(text)
    original, lines = parts[::2], parts[::2]
    strings, docstrings = [], []
    for node in nodes:
        if isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes))):
            strings.append(((node.lineno, node.col_offset), (node.end_lineno, node.end_col_offset)))
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            docstrings.append(node.value)
    for node in docstrings:
        _blank(lines, node.lineno, _column(lines, node.lineno, node.col_offset),
               node.end_lineno, _column(lines, node.end_lineno, node.end_col_offset))
    starts, ends = _intervals(strings)
    for number, line in enumerate(original, 1):  # (bytes counted in the text as written)
        start = line.find("#")
        while start != -1:
            byte = start if line.isascii() else len(line[:start].encode("utf-8", "surrogatepass"))
            where = (number, byte)
            index = bisect_right(starts, where) - 1
            if index < 0 or not where < ends[index]:  # not inside a string: a comment
                if "noqa" not in line[start:].lower():
                    lines[number - 1] = lines[number - 1][:start] + " " * (len(line) - start)
                break
            start = line.find("#", start + 1)
    parts[::2] = lines
    return "".join(parts)


def _intervals(spans: list) -> tuple[list, list]:
    """Sorted, merged (start, end) positions of the strings (f-strings hold strings of their own)."""
    starts, ends = [], []
    for start, end in sorted(spans):
        if ends and start < ends[-1]:
            ends[-1] = max(ends[-1], end)
        else:
            starts.append(start)
            ends.append(end)
    return starts, ends


def _column(lines: list[str], line: int, offset: int) -> int:
    """ast counts UTF-8 bytes; the text counts characters."""
    text = lines[line - 1]
    return offset if text.isascii() else len(text.encode("utf-8", "surrogatepass")[:offset].decode("utf-8", "replace"))


def _blank(lines: list[str], line: int, column: int, end_line: int, end_column: int) -> None:
    if line == end_line:
        text = lines[line - 1]
        lines[line - 1] = text[:column] + " " * (end_column - column) + text[end_column:]
        return
    first = lines[line - 1]
    lines[line - 1] = first[:column] + " " * (len(first) - column)
    for number in range(line, end_line - 1):
        lines[number] = " " * len(lines[number])
    last = lines[end_line - 1]
    lines[end_line - 1] = " " * end_column + last[end_column:]
