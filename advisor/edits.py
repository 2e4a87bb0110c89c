"""Text edits computed from recorded spans: replace a value, drop or add a keyword.

Fixes are edits on the original text (ruff's model), so every byte outside
an edit stays as it was: comments, quotes, line endings, layout.
"""
from __future__ import annotations

import re
from bisect import bisect_right
from typing import Optional

from advisor.facts import Setting, Span
from advisor.findings import Edit


class LineIndex:
    """(line, column) <-> offset in a text, with 1-based lines and columns."""

    def __init__(self, text: str):
        self.text = text
        self.starts = [0] + [m.end() for m in re.finditer(r"\r\n|\r|\n", text)]

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


def remove_keyword(text: str, setting: Setting, name: str) -> Optional[Edit]:
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
    if position + 1 < len(order) and text[line_start:start].strip() == "" and order[position + 1].arg_span.line > target.arg_span.end_line:
        start = line_start  # the argument had its own line(s): remove them whole
        nxt = order[position + 1].arg_span
        end = index.offset(nxt.line, 1)
    return Edit(index.span(start, end), "")


def add_keyword(text: str, setting: Setting, name: str, value: str) -> Edit:
    """Insert `name=value` as the call's last keyword, matching its layout."""
    index = LineIndex(text)
    call_end = index.offset(setting.call_span.end_line, setting.call_span.end_column)
    close = text.rfind(")", 0, call_end)
    body = text[index.offset(setting.call_span.line, setting.call_span.column):close]
    opened = body.find("(")
    inside = body[opened + 1:]
    if not inside.strip():
        return Edit(index.span(close, close), f"{name}={value}")
    if setting.multiline or "\n" in inside.rstrip():
        last = inside.rstrip()
        indent = re.search(r"\n([ \t]*)\S[^\n]*$", last)
        pad = indent.group(1) if indent else "    "
        newline = "\r\n" if "\r\n" in text else "\n"
        insert_at = close - (len(inside) - len(last))
        comma = "" if last.endswith(",") else ","
        trailing = "," if last.endswith(",") else ""
        return Edit(index.span(insert_at, insert_at), f"{comma}{newline}{pad}{name}={value}{trailing}")
    stripped = inside.rstrip()
    insert_at = close - (len(inside) - len(stripped))
    separator = " " if stripped.endswith(",") else ", "
    return Edit(index.span(insert_at, insert_at), f"{separator}{name}={value}")
