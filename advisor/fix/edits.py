"""Text edits computed from recorded spans: replace a value, drop or add a keyword.

Fixes are edits on the original text (ruff's model), so every byte outside
an edit stays as it was: comments, quotes, line endings, layout.
"""
from __future__ import annotations

import re
from bisect import bisect_right

from advisor.facts import Setting, Span
from advisor.findings import Edit
from advisor.scan.sourcefile import LINE_END_RE


class LineIndex:
    """(line, column) <-> offset in a text, with 1-based lines and columns."""

    def __init__(self, text: str):
        self.text = text
        self.starts = [0] + [m.end() for m in LINE_END_RE.finditer(text)]

    def offset(self, line: int, column: int) -> int:
        return self.starts[line - 1] + column - 1

    def position(self, offset: int) -> tuple[int, int]:
        line = bisect_right(self.starts, offset)
        return line, offset - self.starts[line - 1] + 1

    def span(self, start: int, end: int) -> Span:
        return Span(*self.position(start), *self.position(end))


def quote_like(original: str, value: str) -> str:
    """A string literal for `value` in the quote style of `original` (double by default)."""
    quote = "'" if original.lstrip("rRbBuU").startswith("'") else '"'
    return f"{quote}{value}{quote}"


def replace(span: Span, content: str) -> Edit:
    return Edit(span, content)


def remove_keyword(text: str, setting: Setting, name: str) -> Edit | None:
    """Drop `name=value` and the comma that separates it from its neighbours."""
    args = [a for a in setting.arguments.values() if a.arg_span is not None]
    target = setting.arguments.get(name)
    if target is None or target.arg_span is None:
        return None
    index = LineIndex(text)
    order = sorted(args, key=lambda a: (a.arg_span.line, a.arg_span.column))
    position = order.index(target)
    start = index.offset(target.arg_span.line, target.arg_span.column)
    end = index.offset(target.arg_span.end_line, target.arg_span.end_column)
    if position + 1 < len(order):
        nxt = order[position + 1].arg_span
        end = index.offset(nxt.line, nxt.column)
    elif position > 0:
        prev = order[position - 1].arg_span
        line_start = text.rfind("\n", 0, start) + 1
        if prev.end_line < target.arg_span.line and not text[line_start:start].strip():
            # the last argument has its own line: drop that line, keep the comments above it
            rest = re.match(r"[ \t]*,?[ \t]*(#[^\r\n]*)?(\r\n|\r|\n)?", text[end:])
            start, end = line_start, end + rest.end()
        else:
            start = index.offset(prev.end_line, prev.end_column)
    else:
        trailing = re.match(r"\s*,", text[end:])
        end += trailing.end() if trailing else 0
    line_start = text.rfind("\n", 0, start) + 1
    own_line = text[line_start:start].strip() == ""
    if own_line and position + 1 < len(order) and order[position + 1].arg_span.line > target.arg_span.end_line:
        start = line_start  # the argument had its own line(s): remove them whole
        nxt = order[position + 1].arg_span
        end = index.offset(nxt.line, 1)
    return Edit(index.span(start, end), "")


def insert_keyword(call_span: Span, arguments, keyword: str, multiline: bool) -> Edit:
    """Add `keyword` (`name=value`) after the call's last argument, or inside empty parens;
    on its own line, aligned with the others, when the call has one argument per line.
    Written with "\n": the fixer turns it into the file's own line ending."""
    if not arguments:
        at = Span(call_span.end_line, call_span.end_column - 1, call_span.end_line, call_span.end_column - 1)
        return Edit(at, keyword)
    last = max(arguments, key=lambda a: (a.span.end_line, a.span.end_column))
    at = Span(last.span.end_line, last.span.end_column, last.span.end_line, last.span.end_column)
    if multiline:
        start = last.arg_span.column if last.arg_span else last.span.column - len(last.name) - 1
        return Edit(at, ",\n" + " " * max(start - 1, 0) + keyword)
    return Edit(at, ", " + keyword)
