"""The static scanner: one libcst walk over a file, with small recorders reading one walk state.

`Walk` tracks scopes, classes, functions, statements and regions; the
setting, op and call-edge recorders (and the PRC4xx visitor) only record.
Positions are resolved once per file and only when something was recorded:
most files of a code base have nothing to say, and libcst positions cost
more than the parse. Call sites take theirs from Python's own parse.
"""
from __future__ import annotations

import ast
import re

import libcst as cst

from advisor.facts import Argument, FileFacts, Literal, PluginCall, Setting, Span
from advisor.scan.call_recorder import CallRecorder
from advisor.scan.imports import module_name_for
from advisor.scan.noqa import noqa_lines
from advisor.scan.op_recorder import OpRecorder
from advisor.scan.opindex import IDENTIFIER_RE, OpIndex
from advisor.scan.setting_recorder import SettingRecorder
from advisor.scan.training_recorder import TrainingRecorder
from advisor.scan.walk import Positions, Walk, walk

BOOL_OPERANDS_MAX = 1000  # libcst nests one level per `and`/`or`: about 7,000 overflow an 8 MB stack
BOOL_WORD_RE = re.compile(r"\b(?:and|or)\b")


def guard_parse(text: str, path: str) -> ast.AST:
    """Python's parse of `text`; raise SyntaxError (RecursionError, MemoryError) for code libcst must never see.

    libcst's native parser has no depth limit: a few thousand nested levels overflow
    the C stack and kill the whole process (SIGSEGV). CPython's parser refuses such
    code first, except long `and`/`or` chains, which it keeps flat and libcst nests.
    """
    tree = ast.parse(text, filename=path)
    if len(BOOL_WORD_RE.findall(text)) < BOOL_OPERANDS_MAX:
        return tree
    for node in ast.walk(tree):
        if isinstance(node, ast.BoolOp) and len(node.values) > BOOL_OPERANDS_MAX:
            message = f"{len(node.values)} `and`/`or` operands in one expression, more than the parser handles"
            raise SyntaxError(f"{message} ({BOOL_OPERANDS_MAX})", (path, node.lineno, node.col_offset + 1, None))
    return tree


def scan(path: str, text: str, index: OpIndex, companions=(), names: frozenset = frozenset()
         ) -> tuple[FileFacts, cst.Module | None, Positions | None]:
    """Facts of one file, its parsed module and its positions (None, None when no trigger
    word made it worth parsing); raises libcst.ParserSyntaxError or SyntaxError when it does not parse.

    `companions` are callables `walk -> visitor` (the PRC4xx one) walked in the same
    traversal: walking the tree costs as much as parsing it. A file without any trigger
    word has no facts to give; Python's own parser (several times faster than libcst's)
    still checks that it is valid code. `names` (project functions and classes that
    accumulate, found in an earlier round) make a file worth parsing too.
    """
    tree = guard_parse(text, path)
    facts = FileFacts(path=path, module=module_name_for(path))
    if not index.triggers.search(text, tree) and not companions and not mentions(text, names):
        facts.parsed = False
        return facts, None, None
    module = cst.parse_module(text)
    state = Walk(path, module, facts, index.aliases, index.setting_classes)
    recorders = [SettingRecorder(state), OpRecorder(state, index), CallRecorder(state), TrainingRecorder(state)]
    walk(module, state, [*recorders, *(make(state) for make in companions)])
    positions = Positions(module, tree, text)
    _place_all(state, positions)
    facts.noqa = noqa_lines(text)
    return facts, module, positions


def mentions(text: str, names: frozenset) -> bool:
    """Whether the text names one of `names` (identifiers, e.g. project wrappers)."""
    return bool(names) and not names.isdisjoint(IDENTIFIER_RE.findall(text))


def _place_all(state: Walk, positions: Positions) -> None:
    """Spans for what the recorders kept: Python's for calls and statements, libcst's for the rest."""
    for fact, node, statement in state.pending:
        _place(fact, positions.span(node), positions.span(statement) if statement is not None else None)
    calls, statements = state.call_ordinal + 1, state.statement_count
    for edge, ordinal, node in state.call_pending:
        edge.span = positions.call_span(ordinal, node, calls)
    for site, ordinal, node, statement_ordinal, statement in state.op_pending:
        site.span = positions.call_span(ordinal, node, calls) if ordinal is not None else positions.span(node)
        if ordinal is not None:
            positions.op_nodes.setdefault(site.span, (node, statement))
        if statement is not None:
            site.statement_span = positions.statement_span(statement_ordinal, statement, statements)


def _place(fact, where: Span, statement: Span | None) -> None:
    if isinstance(fact, Setting):
        fact.span = where
        fact.call_span = statement or where  # for settings, the "statement" is the whole call
    elif isinstance(fact, PluginCall):
        fact.span = where
    else:
        tag, owner, key = fact
        if tag == "argument":
            arg = owner.arguments[key]
            owner.arguments[key] = _with_span(arg, where, statement)
            if key == "precision":
                owner.precision = owner.arguments[key]
            elif key == "plugins":
                owner.plugins_arg = owner.arguments[key]
        elif tag == "plugin-arg":
            owner.arguments[key] = _with_span(owner.arguments[key], where)
        elif tag == "literal":
            literals = list(owner.literals)
            old = literals[key]
            literals[key] = Literal(old.value, old.text, where)
            owner.literals = tuple(literals)


def _with_span(arg: Argument, where: Span, arg_span: Span | None = None) -> Argument:
    return Argument(name=arg.name, text=arg.text, span=where, value=arg.value, static=arg.static, arg_span=arg_span)
