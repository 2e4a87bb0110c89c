"""Precision settings in YAML configs: LightningCLI `trainer:` sections and Hydra trainer configs.

A YAML setting becomes the same `Setting` as `Trainer(precision=...)` (kind
"LightningCLI"), so the PRC1xx and hardware rules judge it unchanged, and a
fix is an edit of the value's characters only: comments, quotes, anchors and
layout stay as they were.

Why a small line-based reader instead of PyYAML or ruamel.yaml: pre-commit
hands every YAML file of a repository to the hook (CI workflows, Helm
templates, GitLab `!reference` tags...), and a full parser rejects many of
them; we only need block mappings, block sequences and one-line flow
collections, with exact positions for the edit. No dependency, no errors:
what it does not understand it leaves alone. Tests cross-check its values
against PyYAML and ruamel.yaml.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePath

from advisor import lightning
from advisor.facts import Argument, FileFacts, Literal, PluginCall, Setting, Span
from advisor.scan.noqa import noqa_lines
from advisor.scan.sourcefile import LINE_END_RE

YAML_SUFFIXES = (".yaml", ".yml")
CLI_CALLEE = "lightning.pytorch.cli.LightningCLI"
GROUP_CALLEE = "lightning.pytorch.Trainer"
SUBCOMMANDS = ("fit", "validate", "test", "predict")
# PyYAML's YAML 1.1 resolvers for what a precision-like value can be.
NULLS = ("", "~", "null", "Null", "NULL")
BOOLS = {v: True for v in ("yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON")}
BOOLS.update({v: False for v in ("no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF")})
INT_RE = re.compile(r"[-+]?(?:0|[1-9][0-9_]*)$")
FLOAT_RE = re.compile(r"[-+]?(?:[0-9][0-9_]*)?\.[0-9_]*(?:[eE][-+][0-9]+)?$")
PROPERTY_RE = re.compile(r"(?:[&!][^\s]*(?:\s+|$))*")  # anchors (&a) and tags (!!str) before a value
TAGS = {"!!str": str, "!!int": int, "!!float": float}


# ---- nodes ---------------------------------------------------------------------

@dataclass
class Scalar:
    text: str  # source text, quotes included, anchors and tags excluded
    span: Span
    value: object = None
    static: bool = True


@dataclass
class Entry:
    key: str
    key_span: Span
    value: Node = None


@dataclass
class Mapping:
    entries: dict = field(default_factory=dict)  # key -> Entry, in source order


@dataclass
class Sequence:
    items: list = field(default_factory=list)


Node = Scalar | Mapping | Sequence | None


@dataclass
class _Token:
    indent: int
    kind: str  # "seq" (a `- `), "key" (`key: value`), "value" (a bare scalar or flow collection)
    key: str = ""
    key_span: Span | None = None
    value: Node = None
    block: bool = False  # a `|`/`>` block scalar or a multi-line flow collection: not static


def is_yaml(path: str) -> bool:
    return path.lower().endswith(YAML_SUFFIXES)


# ---- reading lines ---------------------------------------------------------------

def _split_comment(line: str) -> tuple[str, str]:
    """(content, comment) where a comment starts at a `#` after whitespace, outside quotes."""
    quote, i = None, 0
    while i < len(line):
        char = line[i]
        if quote:
            if char == "\\" and quote == '"':
                i += 1
            elif char == quote:
                if quote == "'" and line[i + 1:i + 2] == "'":
                    i += 1
                else:
                    quote = None
        elif char in "'\"" and (i == 0 or line[i - 1] in " \t:-[{,"):
            quote = char
        elif char == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i].rstrip(), line[i:]
        i += 1
    return line.rstrip(), ""


def _key_end(content: str, start: int) -> int:
    """Index of the `:` that ends a mapping key at `start`, or -1."""
    if content[start:start + 1] in ("'", '"'):
        close = content.find(content[start], start + 1)
        while close != -1 and content[start] == "'" and content[close + 1:close + 2] == "'":
            close = content.find("'", close + 2)
        if close == -1:
            return -1
        start = close + 1
    elif content[start:start + 1] in ("[", "{", "?", "|", ">", "&", "*", "!", "%", "@", "`"):
        return -1
    match = re.compile(r":(?=\s|$)").search(content, start)
    return match.start() if match else -1


def _unquote(text: str):
    if text.startswith("'"):
        return text[1:-1].replace("''", "'")
    body = text[1:-1]
    if "\\" not in body:
        return body
    try:
        return body.encode("latin-1", "backslashreplace").decode("unicode_escape")
    except UnicodeDecodeError:
        return body


def _resolve(text: str):
    """(value, static) of a scalar's source text, as PyYAML's safe loader reads it."""
    if text[:1] in ("'", '"'):
        return (_unquote(text), True) if len(text) > 1 and text[-1] == text[0] else (None, False)
    if text.startswith("*") or "${" in text:  # an alias, or a Hydra/OmegaConf interpolation
        return None, False
    if text in NULLS:
        return None, True
    if text in BOOLS:
        return BOOLS[text], True
    if INT_RE.match(text):
        return int(text.replace("_", "")), True
    if FLOAT_RE.match(text) and any(c.isdigit() for c in text):
        return float(text.replace("_", "")), True
    return text, True


def _scalar(text: str, line: int, column: int) -> Scalar:
    """A scalar from its source text after properties; column is 1-based."""
    properties = PROPERTY_RE.match(text).group()
    tags = [p for p in properties.split() if p.startswith("!")]
    body = text[len(properties):]
    value, static = _resolve(body)
    if tags:
        cast = TAGS.get(tags[-1])
        try:
            value, static = (cast(body.strip("'\"")) if cast else value), static and cast is not None
        except ValueError:
            static = False
    column += len(properties)
    return Scalar(body, Span(line, column, line, column + len(body)), value, static)


def _flow(text: str, pos: int, line: int, offset: int):
    """Parse a one-line flow collection or scalar at text[pos:]; (node, next position)."""
    while pos < len(text) and text[pos] == " ":
        pos += 1
    if pos < len(text) and text[pos] in "[{":
        closing, node = ("]", Sequence()) if text[pos] == "[" else ("}", Mapping())
        pos += 1
        while True:
            while pos < len(text) and text[pos] in " ,":
                pos += 1
            if pos >= len(text):
                raise ValueError("unclosed flow collection")
            if text[pos] == closing:
                return node, pos + 1
            if isinstance(node, Mapping):
                colon = _key_end(text, pos)
                if colon == -1:
                    raise ValueError("flow mapping entry without a key")
                raw_key = text[pos:colon].strip()
                key = _unquote(raw_key) if raw_key[:1] in "'\"" else raw_key
                entry = Entry(key, Span(line, offset + pos + 1, line, offset + pos + 1 + len(raw_key)))
                entry.value, pos = _flow(text, colon + 1, line, offset)
                node.entries.setdefault(key, entry)
            else:
                item, pos = _flow(text, pos, line, offset)
                node.items.append(item)
    end = pos
    if pos < len(text) and text[pos] in "'\"":
        end = text.find(text[pos], pos + 1) + 1 or len(text)
    stop = re.compile(r"[,\]}]").search(text, end)
    end = stop.start() if stop else len(text)
    raw = text[pos:end].rstrip()
    return _scalar(raw, line, offset + pos + 1), pos + len(raw)


def _value(text: str, line: int, column: int) -> Node:
    """The node of a value written after `key:` or `- ` (column of text[0], 1-based)."""
    if text[:1] in "[{":
        opaque = Scalar(text, Span(line, column, line, column + len(text)), None, False)
        try:
            node, end = _flow(text, 0, line, column - 1)
        except ValueError:
            return opaque
        return node if not text[end:].strip() else opaque
    return _scalar(text, line, column)


def _tokens(text: str) -> tuple[list[list[_Token]], dict]:
    """Documents as token lists, and line -> comment text (for noqa)."""
    documents: list[list[_Token]] = [[]]
    comments: dict = {}
    lines = LINE_END_RE.split(text)
    skip_deeper: int | None = None  # inside a block scalar: skip lines indented beyond this
    flow_depth = 0
    for number, raw in enumerate(lines, start=1):
        content, comment = _split_comment(raw)
        if comment:
            comments[number] = comment
        stripped = content.strip()
        indent = len(content) - len(content.lstrip(" "))
        if flow_depth:  # the continuation of a multi-line flow collection
            flow_depth += content.count("[") + content.count("{") - content.count("]") - content.count("}")
            flow_depth = max(flow_depth, 0)
            continue
        if skip_deeper is not None:
            if not stripped or indent > skip_deeper:
                continue
            skip_deeper = None
        if not stripped or stripped.startswith("%"):
            continue
        if content.startswith(("---", "...")) and content[3:4] in ("", " "):
            documents.append([])
            continue
        tokens = documents[-1]
        column = indent
        while True:
            rest = content[column:]
            if rest == "-" or rest.startswith("- "):
                tokens.append(_Token(column, "seq"))
                column += 1 + len(rest[1:]) - len(rest[1:].lstrip(" "))
                if column >= len(content):
                    break
                continue
            token, depth = _entry_token(content, column, number)
            if depth:
                flow_depth = depth
            elif token.block:
                skip_deeper = indent
            tokens.append(token)
            break
    return documents, comments


def _entry_token(content: str, column: int, number: int) -> tuple[_Token, int]:
    """The `key: value` or bare-value token at `column`, and the depth of a flow collection it leaves
    open (0 if none); a `block` token with depth 0 starts a `|`/`>` block scalar."""
    rest = content[column:]
    colon = _key_end(content, column)
    if colon != -1:
        raw_key = content[column:colon].rstrip()
        key = _unquote(raw_key) if raw_key[:1] in "'\"" else raw_key
        token = _Token(column, "key", key, Span(number, column + 1, number, column + 1 + len(raw_key)))
        after = content[colon + 1:]
        value_col = colon + 1 + len(after) - len(after.lstrip())
        value_text = after.strip()
    else:
        token = _Token(column, "value")
        value_col, value_text = column, rest.strip()
    bare = PROPERTY_RE.sub("", value_text, count=1)
    depth = 0
    if bare[:1] in ("|", ">"):
        token.block = True
    elif bare[:1] in "[{":
        depth = max(bare.count("[") + bare.count("{") - bare.count("]") - bare.count("}"), 0)
        token.block = depth > 0
    if token.block:
        token.value = Scalar(value_text, Span(number, value_col + 1, number, value_col + 1 + len(value_text)),
                             None, False)
    elif bare:
        token.value = _value(value_text, number, value_col + 1)
    return token, depth


# ---- building nodes ------------------------------------------------------------------

class _Builder:
    def __init__(self, tokens: list[_Token]):
        self.tokens, self.pos = tokens, 0

    def _peek(self) -> _Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def node(self, min_indent: int) -> Node:
        token = self._peek()
        if token is None or token.indent < min_indent:
            return None
        if token.kind == "seq":
            return self._sequence(token.indent)
        if token.kind == "key":
            return self._mapping(token.indent)
        self.pos += 1
        return token.value

    def _skip_deeper(self, indent: int) -> None:
        while self._peek() is not None and self._peek().indent > indent:
            self.pos += 1

    def _sequence(self, indent: int) -> Sequence:
        sequence = Sequence()
        while (token := self._peek()) is not None and token.kind == "seq" and token.indent == indent:
            self.pos += 1
            sequence.items.append(self.node(indent + 1))
        return sequence

    def _mapping(self, indent: int) -> Mapping:
        mapping = Mapping()
        while (token := self._peek()) is not None and token.kind == "key" and token.indent == indent:
            self.pos += 1
            entry = Entry(token.key, token.key_span)
            if token.value is not None or token.block:
                entry.value = token.value
                nxt = self._peek()
                if nxt is not None and nxt.indent > indent and nxt.kind == "value" and isinstance(entry.value, Scalar):
                    entry.value = replace(entry.value, static=False)  # a plain scalar continued on more lines
                self._skip_deeper(indent)
            else:
                nxt = self._peek()
                if nxt is not None and nxt.kind == "seq" and nxt.indent == indent:
                    entry.value = self._sequence(indent)  # `key:` followed by `- item` at the key's indent
                else:
                    entry.value = self.node(indent + 1)
                    self._skip_deeper(indent)
            mapping.entries.setdefault(entry.key, entry)
        return mapping


# ---- settings -------------------------------------------------------------------------

def _argument(name: str, node: Node, kind_cli: bool) -> Argument | None:
    if not isinstance(node, Scalar):
        return None
    value = node.value
    if kind_cli and isinstance(value, str) and node.static and INT_RE.match(value):
        value = int(value)  # jsonargparse: the int branch of int|str wins, so '16' is 16
    return Argument(name=name, text=node.text, span=node.span, value=value, static=node.static)


def _text(node: Node) -> str | None:
    if isinstance(node, Scalar):
        return None if node.value is None else str(node.value)
    if isinstance(node, Mapping):  # class_path or _target_ form: its class name
        target = node.entries.get("class_path") or node.entries.get("_target_")
        if target is not None and isinstance(target.value, Scalar) and target.value.value:
            return str(target.value.value).rsplit(".", 1)[-1]
    return None


def _plugins(setting: Setting, node: Node, kind_cli: bool) -> None:
    items = node.items if isinstance(node, Sequence) else [node] if node is not None else []
    for item in items:
        if isinstance(item, Scalar):
            if item.value is not None:
                setting.plugins.append(str(item.value))
            continue
        if not isinstance(item, Mapping):
            continue
        target = item.entries.get("class_path") or item.entries.get("_target_")
        if target is None or not isinstance(target.value, Scalar) or not target.value.value:
            continue
        name = str(target.value.value)
        init = item.entries.get("init_args")
        arguments = init.value.entries if init is not None and isinstance(init.value, Mapping) else item.entries
        call = PluginCall(name=name, span=target.value.span)
        for key, entry in arguments.items():
            if key not in ("class_path", "_target_", "init_args"):
                argument = _argument(key, entry.value, kind_cli)
                if argument is not None:
                    call.arguments[key] = argument
        setting.plugins.append(name)
        setting.plugin_calls.append(call)


def _setting(path: str, section: Mapping, anchor: Span, callee: str, kind_cli: bool) -> Setting:
    """A Setting for one trainer section; `anchor` is its `trainer:`/`_target_` key."""
    entry = section.entries.get("precision")
    span = entry.key_span if entry is not None else anchor
    setting = Setting(kind="LightningCLI", path=path, callee=callee, span=span, call_span=span)
    for name, item in section.entries.items():
        argument = _argument(name, item.value, kind_cli)
        if argument is not None:
            setting.arguments[name] = argument
    if entry is not None:
        value = entry.value
        setting.precision = setting.arguments.get("precision") or Argument(
            "precision", "", entry.key_span, None, False)
        setting.call_span = Span(span.line, span.column, span.line,
                                 value.span.end_column if isinstance(value, Scalar) else span.end_column)
        argument = setting.precision
        if argument.static and not (isinstance(argument.value, str) and "." in argument.value
                                    and argument.value not in lightning.VALID_PRECISIONS):
            setting.literals = (Literal(argument.value, argument.text, argument.span),)
            setting.normalized = lightning.normalize(argument.value)
    for name in ("accelerator", "devices", "strategy"):
        if name in section.entries:
            setattr(setting, name, _text(section.entries[name].value))
    if "plugins" in section.entries:
        _plugins(setting, section.entries["plugins"].value, kind_cli)
    return setting


def _target(node: Mapping) -> str | None:
    """The class a section names (`_target_` for Hydra, `class_path` for LightningCLI), or None."""
    entry = node.entries.get("_target_") or node.entries.get("class_path")
    if entry is None or not isinstance(entry.value, Scalar) or not entry.value.value:
        return None
    return str(entry.value.value)


def _is_trainer(target: str | None) -> bool:
    return target is not None and lightning.is_lightning(target, "Trainer")


def _hydra_sections(node: Node, found: list) -> None:
    """Mappings anywhere whose `_target_` names a Lightning Trainer."""
    if isinstance(node, Sequence):
        for item in node.items:
            _hydra_sections(item, found)
    elif isinstance(node, Mapping):
        target = node.entries.get("_target_")
        if target is not None and _is_trainer(_target(node)):
            found.append((node, target.key_span, _target(node), False, None))
        for entry in node.entries.values():
            _hydra_sections(entry.value, found)


def _cli_proof(root: Mapping) -> str | None:
    """None when a root `trainer:` is LightningCLI's: `model:`/`data:` beside it name a class_path."""
    for key in ("model", "data"):
        entry = root.entries.get(key)
        if entry is not None and isinstance(entry.value, Mapping) and "class_path" in entry.value.entries:
            return None
    return "a `trainer:` section without a LightningCLI `model:`/`data:` class_path beside it"


def _group_proof(path: str, root: Mapping) -> str | None:
    """None when a Hydra trainer-group file composes a Lightning Trainer: its `defaults:` name a
    sibling config of the group whose `_target_` is one."""
    entry = root.entries.get("defaults")
    items = entry.value.items if entry is not None and isinstance(entry.value, Sequence) else []
    for item in items:
        name = item.value if isinstance(item, Scalar) else None
        sibling = PurePath(path).parent / f"{name}.yaml" if isinstance(name, str) else None
        try:
            text = Path(sibling).read_text(encoding="utf-8") if sibling else ""
        except (OSError, UnicodeDecodeError):
            continue
        target = re.search(r"^_target_:\s*['\"]?([\w.]+)", text, re.MULTILINE)
        if target and _is_trainer(target.group(1)):
            return None
    return "a trainer-group config without a Lightning `_target_`"


def _sections(path: str, root: Node) -> list:
    """(mapping, anchor span, callee, read like LightningCLI, why not proven or None) for each
    trainer section of a document (a mapping can be listed twice: `trainer:` holding a Hydra
    `_target_`). A section naming another class (`_target_: transformers.Trainer`) is none."""
    found: list = []
    if not isinstance(root, Mapping):
        return found
    subcommands = [e.value for k, e in root.entries.items() if k in SUBCOMMANDS and isinstance(e.value, Mapping)]
    for owner in [root] + subcommands:
        entry = owner.entries.get("trainer")
        if entry is not None and isinstance(entry.value, (Mapping, type(None))):
            section = entry.value or Mapping()
            target = _target(section)
            if target is None:
                found.append((section, entry.key_span, CLI_CALLEE, True, None if subcommands else _cli_proof(root)))
            elif _is_trainer(target) and "class_path" in section.entries:
                found.append((section, entry.key_span, target, True, None))
    _hydra_sections(root, found)
    if "trainer" in PurePath(path).parts[:-1] and ("precision" in root.entries or "_target_" in root.entries):
        target = _target(root)
        if target is None or _is_trainer(target):
            anchor = (root.entries.get("_target_") or root.entries["precision"]).key_span
            found.append((root, anchor, target or GROUP_CALLEE, False, None if target else _group_proof(path, root)))
    return found


def scan_yaml(path: str, text: str) -> FileFacts:
    """Facts of one YAML file: its trainer precision settings and its noqa comments.

    Never raises on odd YAML: what the reader cannot follow holds no setting.
    """
    facts = FileFacts(path=path)
    if "rainer" not in text and "trainer" not in PurePath(path).parts:
        return facts
    documents, comments = _tokens(text)
    for tokens in documents:
        seen: set = set()
        # a `trainer:` section with a `_target_` is one setting, read as Hydra reads it
        for section, anchor, callee, kind_cli, unproven in sorted(_sections(path, _Builder(tokens).node(0)),
                                                                  key=lambda s: s[3]):
            if id(section) not in seen:
                seen.add(id(section))
                facts.settings.append(_setting(path, section, anchor, callee, kind_cli))
                facts.settings[-1].unproven = unproven
    facts.settings.sort(key=lambda s: (s.span.line, s.span.column))
    facts.noqa = noqa_lines("\n".join(comments.get(n, "") for n in range(1, max(comments, default=0) + 1)))
    return facts


# ---- fixes ------------------------------------------------------------------------------

SCALAR_CONTENT = re.compile(r"""^(?:"[^"\\\n]*"|'[^'\n]*'|[A-Za-z0-9_.+-]+)$""")


def yaml_safe_fixes(findings: list) -> list:
    """Drop the fixes of YAML findings that are not one-line value replacements.

    Setting and hardware rules write their fixes as Python edits; a value
    replacement (`16` -> `"16-mixed"`) is valid YAML too, an inserted or
    removed keyword argument is not.
    """
    kept = []
    for finding in findings:
        fix = finding.fix
        if fix is not None and is_yaml(finding.path) and not all(
                edit.span.line == edit.span.end_line and edit.span.column < edit.span.end_column
                and SCALAR_CONTENT.match(edit.content) for edit in fix.edits):
            finding = replace(finding, fix=None)
        kept.append(finding)
    return kept
