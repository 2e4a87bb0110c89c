"""`# noqa` comments, flake8 syntax: `# noqa` (every code) or `# noqa: PRC201,PRC1` (codes or prefixes)."""
from __future__ import annotations

import io
import re
import tokenize

NOQA_RE = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?", re.IGNORECASE)


def noqa_lines(text: str) -> dict:
    """line -> frozenset of codes, or None for a bare `# noqa` (all codes)."""
    result: dict = {}
    if "noqa" not in text.lower():
        return result
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return result
    for token in tokens:
        if token.type != tokenize.COMMENT:
            continue
        match = NOQA_RE.search(token.string)
        if match:
            codes = match.group("codes")
            result[token.start[0]] = frozenset(c.upper() for c in re.split(r"[,\s]+", codes) if c) if codes else None
    return result
