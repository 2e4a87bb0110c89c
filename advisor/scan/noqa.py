"""`# noqa` comments, flake8 syntax: `# noqa` (every code) or `# noqa: PRC201,PRC1` (codes or prefixes)."""
from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Callable

from advisor.scan.sourcefile import LINE_END_RE

NOQA_RE = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?", re.IGNORECASE)


def noqa_lines(text: str, in_string: Callable[[int, int], bool] | None = None) -> dict:
    """line -> frozenset of codes, or None for a bare `# noqa` (all codes).

    `in_string(line, byte column)` says whether a position lies in a string literal (from
    Python's parse of the file): a `# noqa` outside every string is a comment, and the file
    need not be tokenized; one inside a string (or without `in_string`) needs the tokenizer.
    """
    if "noqa" not in text.lower():
        return {}
    if in_string is None:
        return _tokenized(text)
    found = []
    for number, line in enumerate(LINE_END_RE.split(text), 1):
        if "noqa" in line.lower():
            for match in NOQA_RE.finditer(line):
                if in_string(number, len(line[:match.start()].encode("utf-8", "surrogatepass"))):
                    return _tokenized(text)
                found.append((number, match))
                break
    return dict(_codes(number, match) for number, match in found)


def _tokenized(text: str) -> dict:
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return {}
    comments = ((token.start[0], NOQA_RE.search(token.string)) for token in tokens if token.type == tokenize.COMMENT)
    return dict(_codes(number, match) for number, match in comments if match)


def _codes(number: int, match: re.Match) -> tuple[int, frozenset | None]:
    codes = match.group("codes")
    return number, frozenset(c.upper() for c in re.split(r"[,\s]+", codes) if c) if codes else None
