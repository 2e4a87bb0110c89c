"""The libcst pass over a file worth parsing: one walk with the recorders reading one walk state.

`Walk` tracks scopes, classes, functions, statements and regions; the
setting, op and call-edge recorders (and the PRC4xx visitor) only record.
Positions are resolved once per file and only when something was recorded:
libcst positions cost more than the parse. Call sites take theirs from
Python's own parse.
"""
from __future__ import annotations

import libcst as cst
from libcst._nodes.base import CSTNode

from advisor.facts import Argument, FileFacts, Literal, PluginCall, Setting, Span
from advisor.scan.call_recorder import CallRecorder
from advisor.scan.noqa import noqa_lines
from advisor.scan.op_recorder import OpRecorder
from advisor.scan.opindex import OpIndex
from advisor.scan.positions import Positions
from advisor.scan.pytree import PythonTree
from advisor.scan.setting_recorder import SettingRecorder
from advisor.scan.training_recorder import TrainingRecorder
from advisor.scan.walk import Walk, walk


def record(path: str, text: str, tree: PythonTree, facts: FileFacts, index: OpIndex, companions=()
           ) -> tuple[FileFacts, cst.Module, Positions]:
    """`scan` for a file worth parsing: libcst's parse, the recorders' walk, the positions of what they kept."""
    try:
        module = parse_unvalidated(text)
    except cst.ParserSyntaxError as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else "syntax error"
        raise SyntaxError(message, (path, exc.raw_line, exc.raw_column + 1, None)) from exc
    state = Walk(path, module, facts, index.aliases, index.setting_classes)
    recorders = [SettingRecorder(state), OpRecorder(state, index), CallRecorder(state), TrainingRecorder(state)]
    walk(module, state, [*recorders, *(make(state) for make in companions)])
    positions = Positions(module, tree, text)
    _place_all(state, positions)
    facts.noqa = noqa_lines(text, positions.in_string)
    return facts, module, positions


def parse_unvalidated(text: str) -> cst.Module:
    """libcst's parse of code Python has parsed, without libcst's check of each node it builds.

    Every node's constructor validates it (`CSTNode.__post_init__`), a seventh of the parse;
    a node libcst's own parser builds from valid code is valid by construction (libcst's
    comment there says as much). Nodes built after the parse, such as a fix's, are validated.
    """
    validate = CSTNode.__dict__.get("__post_init__")
    if validate is None:  # a libcst that validates elsewhere: nothing to skip
        return cst.parse_module(text)
    CSTNode.__post_init__ = _skip_validation
    try:
        return cst.parse_module(text)
    finally:
        CSTNode.__post_init__ = validate


def _skip_validation(node: CSTNode) -> None:
    """The node constructor's hook while `parse_unvalidated` runs."""


def _place_all(state: Walk, positions: Positions) -> None:
    """Spans for what the recorders kept: Python's for calls and statements, libcst's for the rest."""
    for fact, node, statement in state.pending:
        _place(fact, positions.span(node), positions.span(statement) if statement is not None else None)
    calls, operations, statements = state.call_ordinal + 1, state.operation_ordinal + 1, state.statement_count
    for edge, ordinal, node in state.call_pending:
        edge.span = positions.call_span(ordinal, node, calls)
    for site, anchor, node, statement_ordinal, statement in state.op_pending:
        if isinstance(anchor, int):
            site.span = positions.call_span(anchor, node, calls)
            positions.op_nodes.setdefault(site.span, (node, statement))
        else:
            site.span = positions.operand_span(anchor[1], anchor[0], node, operations)
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
