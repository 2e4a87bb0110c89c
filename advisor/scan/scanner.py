"""The static scanner: one libcst pass over a file that records facts.

It records precision settings (Trainer/Fabric/LightningCLI calls), op sites
the catalogue's patterns name, where each op runs (forward, step, helper...),
and the call edges that let the engine follow project helpers across files.
Positions are resolved only when something was recorded: most files of a
code base have nothing to say, and positions cost more than the parse.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from advisor import lightning
from advisor.checks.ops import pattern_matches
from advisor.facts import Argument, FileFacts, FunctionInfo, Literal, OpSite, PluginCall, Setting, Span
from advisor.scan.imports import Scopes, module_name_for
from advisor.scan.noqa import noqa_lines
from advisor.scan.opindex import OpIndex
from advisor.scan.values import FP32_DTYPES, INT_DTYPES, NOT_STATIC, branches, literal

STEP_RE = re.compile(r"^(training|validation|test|predict)_step$|_step$")
DATA_METHODS = {"setup", "prepare_data", "train_dataloader", "val_dataloader", "test_dataloader",
                "predict_dataloader", "configure_optimizers", "__getitem__", "__len__", "__iter__"}
MODULE_BASES = ("torch.nn.Module", "torch.nn.modules.module.Module")
FUNCTION_BASES = ("torch.autograd.Function", "torch.autograd.function.Function")
DATA_BASE_SUFFIXES = ("Dataset", "IterableDataset", "DataModule", "LightningDataModule", "BaseTransform",
                      "DataLoader", "Sampler")
FP32_METHODS = ("float", "double")
# Calls into these packages are never project helpers: no call edge is kept for them.
EXTERNAL_ROOTS = frozenset({"torch", "numpy", "lightning", "pytorch_lightning", "lightning_fabric", "torch_scatter",
                            "torch_geometric", "torch_sparse", "torch_cluster", "math", "os", "sys", "typing",
                            "functools", "itertools", "collections", "logging", "warnings", "builtins"})
INT_METHODS = ("long", "int", "bool", "short")
BOOL_OPERANDS_MAX = 1000  # libcst nests one level per `and`/`or`: about 7,000 overflow an 8 MB stack
BOOL_WORD_RE = re.compile(r"\b(?:and|or)\b")
OPTIMIZER_PREFIXES = ("torch.optim.", "bitsandbytes.optim.")  # constructors the memory model reads
OPTIMIZER_KEYWORDS = ("momentum", "optim_bits")


@dataclass
class _Function:
    qualname: str
    context: str
    info: FunctionInfo
    fp32_names: set = field(default_factory=set)
    int_names: set = field(default_factory=set)


@dataclass
class _Class:
    name: str
    kind: str  # "module" | "autograd" | "data" | "trainer" | "other"
    bases: tuple
    setting_kind: str | None = None


class Scanner(cst.BatchableCSTVisitor):
    def __init__(self, path: str, module: cst.Module, index: OpIndex, locate_calls: bool = False):
        self.path = path
        self.module = module
        self.index = index
        self.module_name = module_name_for(path)
        self.scopes = Scopes(self.module_name, index.aliases)
        self.assigned_calls: list[dict[str, cst.Call]] = [{}]
        self.classes: list[_Class] = []
        self.local_classes: dict[str, _Class] = {}
        self.functions: list[_Function] = []
        self.facts = FileFacts(path=path, module=self.module_name)
        self.pending: list[tuple[object, cst.CSTNode, cst.CSTNode | None]] = []  # (fact, node, statement)
        self.statements: list[cst.CSTNode] = []
        self.locate_calls = locate_calls
        self.call_spans: dict[tuple[str, str], Span] = {}
        # name -> the expression it was bound to: module constants, then per open function its
        # parameter defaults (None once a name is bound twice: its value is no longer known)
        self.bindings: list[dict[str, cst.BaseExpression | None]] = [{}]

    # -- scopes ---------------------------------------------------------------
    def visit_Import(self, node: cst.Import) -> None:
        self.scopes.add_import(node)
        if any((a.name.value if isinstance(a.name, cst.Name) else "") == "torch" for a in node.names):
            alias = next(a for a in node.names if isinstance(a.name, cst.Name) and a.name.value == "torch")
            self.facts.imports_torch_as = alias.asname.name.value if alias.asname else "torch"

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        self.scopes.add_import_from(node)

    def visit_Assign(self, node: cst.Assign) -> None:
        if len(node.targets) != 1 or not isinstance(node.targets[0].target, cst.Name):
            return
        name = node.targets[0].target.value
        value = node.value
        qualified = self.scopes.qualify(value) if isinstance(value, (cst.Name, cst.Attribute)) else None
        if qualified:  # `MyTrainer = L.Trainer`: calls through the new name still count
            self.scopes.bind(name, qualified)
        if isinstance(value, cst.Call):
            self.assigned_calls[-1][name] = value
        if self.functions:
            self._track_dtype(name, value)
        if not self.classes or self.functions:
            self._bind(name, value)

    def _bind(self, name: str, value: cst.BaseExpression | None) -> None:
        scope = self.bindings[-1]
        scope[name] = None if name in scope else value

    def _bound_value(self, node: cst.BaseExpression) -> cst.BaseExpression:
        """A name's single bound expression (a module constant or a parameter default), else the node."""
        if not isinstance(node, cst.Name):
            return node
        for scope in reversed(self.bindings):
            if node.value in scope:
                return scope[node.value] or node
        return node

    def _track_dtype(self, name: str, value: cst.BaseExpression) -> None:
        function = self.functions[-1]
        function.fp32_names.discard(name)
        function.int_names.discard(name)
        if self._is_fp32(value):
            function.fp32_names.add(name)
        elif self._is_int(value):
            function.int_names.add(name)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        bases = tuple(self.scopes.qualify(arg.value) or (arg.value.value if isinstance(arg.value, cst.Name) else "")
                      for arg in node.bases)
        info = _Class(name=node.name.value, kind=self._class_kind(bases), bases=bases)
        info.setting_kind = next((lightning.setting_kind(b) for b in bases if lightning.setting_kind(b)), None) or next(
            (self.local_classes[b].setting_kind for b in bases if b in self.local_classes), None)
        self.classes.append(info)
        self.local_classes[info.name] = info

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self.classes.pop()

    def _class_kind(self, bases: tuple) -> str:
        for base in bases:
            if base in self.local_classes:
                return self.local_classes[base].kind
            last = base.rsplit(".", 1)[-1]
            if base in FUNCTION_BASES:
                return "autograd"
            if last.endswith(DATA_BASE_SUFFIXES):
                return "data"
            if (base in MODULE_BASES or lightning.is_lightning(base, "LightningModule")
                    or base.startswith("torch_geometric.nn")):
                return "module"
        return "other"

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.scopes.push()
        self.assigned_calls.append({})
        name = node.name.value
        if self.functions:  # nested functions run where their parent runs
            parent = self.functions[-1]
            qualname, context = f"{parent.qualname}.<locals>.{name}", parent.context
        else:
            owner = self.classes[-1] if self.classes else None
            qualname = f"{owner.name}.{name}" if owner else name
            context = self._function_context(owner, name)
        info = FunctionInfo(qualname=qualname, path=self.path, module=self.module_name, context=context)
        self.facts.functions.setdefault(qualname, info)
        self.functions.append(_Function(qualname, context, self.facts.functions[qualname]))
        params = node.params
        self.bindings.append({param.name.value: param.default for param in
                              (*params.posonly_params, *params.params, *params.kwonly_params)})

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.bindings.pop()
        self.scopes.pop()
        self.assigned_calls.pop()
        self.functions.pop()

    @staticmethod
    def _function_context(owner: _Class | None, name: str) -> str:
        if owner is None:
            return "helper"
        if owner.kind == "data" or name in DATA_METHODS:
            return "data"
        if name == "__init__":
            return "init"
        if owner.kind == "autograd":
            return "backward" if name == "backward" else "forward"
        if owner.kind == "module":
            if name == "forward":
                return "forward"
            if STEP_RE.search(name):
                return "step"
        return "helper"

    # -- statements (for noqa on the closing line and for fixes) ---------------
    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        self.statements.append(node)

    def leave_SimpleStatementLine(self, original_node: cst.SimpleStatementLine) -> None:
        self.statements.pop()

    # -- calls ---------------------------------------------------------------------
    def visit_Call(self, node: cst.Call) -> None:
        qualified = self.scopes.qualify(node.func)
        kind = lightning.setting_kind(qualified)
        if kind is None and isinstance(node.func, cst.Name) and node.func.value in self.local_classes:
            kind = self.local_classes[node.func.value].setting_kind
            qualified = qualified or f"{self.module_name}.{node.func.value}"
        if kind:
            self._record_setting(kind, qualified, node)
        self._record_op(node, qualified)
        self._record_training(node, qualified)
        if self.functions:
            callee = qualified or self._local_callee(node.func)
            if callee and callee.split(".")[0] not in EXTERNAL_ROOTS:
                self.functions[-1].info.calls.append((callee, None))  # located later, only if reported
                if self.locate_calls:
                    self.pending.append((("call", self.functions[-1].qualname, callee), node, None))

    def _record_training(self, node: cst.Call, qualified: str | None) -> None:
        """What the memory model needs: optimizers built, and whether a model is built under init_module()."""
        if qualified and (qualified.startswith(OPTIMIZER_PREFIXES) or qualified.endswith(".Adafactor")):
            keywords = {arg.keyword.value: literal(arg.value, self.scopes.qualify) for arg in node.args
                        if arg.keyword is not None and arg.keyword.value in OPTIMIZER_KEYWORDS}
            self.facts.optimizers.append((qualified, keywords))
        elif isinstance(node.func, cst.Attribute) and node.func.attr.value == "init_module":
            self.facts.init_module = True

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if isinstance(node.operator, cst.Add) and self.index.matches_function("operator.add"):
            for side in (node.left, node.right):
                value = literal(side, self.scopes.qualify)
                if isinstance(value, float):
                    self._add_op(OpSite(op="operator.add", path=self.path, span=None, kind="function",
                                        keywords={"#0": value}, detail=self.module.code_for_node(side)), side)

    def _local_callee(self, func: cst.BaseExpression) -> str | None:
        if isinstance(func, cst.Name):
            return f"{self.module_name}.{func.value}"
        if (isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.value.value == "self"
                and self.classes):
            return f"{self.module_name}.{self.classes[-1].name}.{func.attr.value}"
        return None

    # -- settings -------------------------------------------------------------------
    def _argument(self, name: str, node) -> Argument:
        """`node` is a keyword Arg or a dict element: both hold the value in `.value`."""
        value = literal(node.value, self.scopes.qualify)
        return Argument(name=name, text=self.module.code_for_node(node.value), span=None,
                        value=None if value is NOT_STATIC else value, static=value is not NOT_STATIC)

    def _record_setting(self, kind: str, qualified: str, node: cst.Call) -> None:
        keywords = {arg.keyword.value: arg for arg in node.args if arg.keyword is not None}
        if kind == "LightningCLI":
            keywords = self._cli_defaults(keywords)
            if keywords is None:
                return
        setting = Setting(kind=kind, path=self.path, callee=qualified, span=None, call_span=None,
                          has_star_kwargs=any(arg.star == "**" for arg in node.args))
        setting.multiline = len(keywords) > 1 and all(
            "\n" in self.module.code_for_node(arg.comma) for arg in list(keywords.values())[:-1]
            if arg.comma is not cst.MaybeSentinel.DEFAULT)
        for name, arg in keywords.items():
            setting.arguments[name] = self._argument(name, arg)
            self.pending.append((("argument", setting, name), arg.value, arg))
        if "precision" in keywords:
            self._record_precision(setting, keywords["precision"].value)
        for name in ("accelerator", "devices", "strategy"):
            if name in keywords:
                setattr(setting, name, self._text_value(keywords[name].value))
        if "plugins" in keywords:
            self._record_plugins(setting, keywords["plugins"].value)
        self.facts.settings.append(setting)
        self.pending.append((setting, node.func, node))

    def _cli_defaults(self, keywords: dict):
        """LightningCLI(trainer_defaults={...} or dict(...)): the dict stands in for the call."""
        arg = keywords.get("trainer_defaults")
        value = arg.value if arg is not None else None
        if isinstance(value, cst.Dict):
            pairs = {}
            for element in value.elements:
                if isinstance(element, cst.DictElement) and isinstance(element.key, cst.SimpleString):
                    key = element.key.evaluated_value
                    pairs[key] = element
            return pairs
        if isinstance(value, cst.Call) and isinstance(value.func, cst.Name) and value.func.value == "dict":
            return {a.keyword.value: a for a in value.args if a.keyword is not None}
        return None

    def _record_precision(self, setting: Setting, value: cst.BaseExpression) -> None:
        leaves = [self._bound_value(leaf) for leaf in branches(self._bound_value(value))]
        literals = [literal(leaf, self.scopes.qualify) for leaf in leaves]
        if any(v is NOT_STATIC or (isinstance(v, str) and "." in v and v not in lightning.VALID_PRECISIONS)
               for v in literals):
            return  # a variable or an expression: not static
        literal_facts = []
        for leaf, val in zip(leaves, literals, strict=True):
            fact = Literal(value=val, text=self.module.code_for_node(leaf), span=None)
            literal_facts.append(fact)
            self.pending.append((("literal", setting, len(literal_facts) - 1), leaf, None))
        setting.literals = tuple(literal_facts)
        normalized = {lightning.normalize(v) for v in literals}
        setting.normalized = normalized.pop() if len(normalized) == 1 else None

    def _text_value(self, node: cst.BaseExpression) -> str:
        value = literal(node, self.scopes.qualify)
        if isinstance(value, (str, int)) and value is not None:
            return str(value)
        if isinstance(node, cst.Call):
            qualified = self.scopes.qualify(node.func) or (node.func.value if isinstance(node.func, cst.Name) else "")
            return qualified.rsplit(".", 1)[-1] or self.module.code_for_node(node)
        return self.module.code_for_node(node)

    def _record_plugins(self, setting: Setting, value: cst.BaseExpression) -> None:
        items = [e.value for e in value.elements] if isinstance(value, (cst.List, cst.Tuple)) else [value]
        for item in items:
            if isinstance(item, cst.Name) and item.value in self.assigned_calls[-1] | self.assigned_calls[0]:
                item = (self.assigned_calls[-1] | self.assigned_calls[0])[item.value]
            if not isinstance(item, cst.Call):
                setting.plugins.append(self.module.code_for_node(item))
                continue
            name = self.scopes.qualify(item.func) or self.module.code_for_node(item.func)
            call = PluginCall(name=name, span=None)
            for arg in item.args:
                if arg.keyword is not None:
                    call.arguments[arg.keyword.value] = self._argument(arg.keyword.value, arg)
                    self.pending.append((("plugin-arg", call, arg.keyword.value), arg.value, None))
            setting.plugins.append(name)
            setting.plugin_calls.append(call)
            self.pending.append((call, item, None))

    # -- ops -------------------------------------------------------------------------
    def _record_op(self, node: cst.Call, qualified: str | None) -> None:
        index = self.index
        if qualified:
            if not index.matches_function(qualified):
                return
            site = OpSite(op=qualified, path=self.path, span=None, kind="function")
            receiver_fp32 = True
        elif isinstance(node.func, cst.Attribute):
            name = node.func.attr.value
            receiver = node.func.value
            base = self._subclass_base(name) if isinstance(receiver, cst.Name) and receiver.value == "self" else None
            if base:
                site = OpSite(op=f"{base}.{name}", path=self.path, span=None, kind="subclass")
            elif name in index.methods and not (isinstance(receiver, cst.Name) and receiver.value == "self"):
                site = OpSite(op=f"Tensor.{name}", path=self.path, span=None, kind="method")
                if self._is_int(receiver):
                    return  # integer data: nothing to lose in half precision
            else:
                return
            receiver_fp32 = self._is_fp32(receiver)
        else:
            return
        positional = [arg for arg in node.args if arg.keyword is None and not arg.star]
        for position, arg in enumerate(positional):
            site.keywords[f"#{position}"] = literal(arg.value, self.scopes.qualify)
        for arg in node.args:
            if arg.keyword is not None:
                site.keywords[arg.keyword.value] = literal(arg.value, self.scopes.qualify)
        site.keyword_names = tuple(arg.keyword.value for arg in node.args if arg.keyword is not None)
        if not any(pattern_matches(pattern, site) for pattern in index.patterns):
            return  # e.g. `.sum()` without the fp16 `dtype=` its rule is about: no fact worth a position
        casts = [self._is_fp32(arg.value) for arg in node.args]
        dtype = site.keywords.get("dtype")
        site.in_fp32_region = (dtype in FP32_DTYPES) or (receiver_fp32 and any(casts))
        self._add_op(site, node)

    def _subclass_base(self, method: str) -> str | None:
        for cls in reversed(self.classes):
            for base in cls.bases:
                if method in self.index.subclass_methods.get(base, ()):
                    return base
        return None

    def _add_op(self, site: OpSite, node: cst.CSTNode) -> None:
        site.function = self.functions[-1].qualname if self.functions else None
        site.context = self.functions[-1].context if self.functions else "module"
        self.facts.ops.append(site)
        self.pending.append((site, node, self._statement()))

    def _statement(self) -> cst.CSTNode | None:
        return self.statements[-1] if self.statements else None

    # -- dtype knowledge -----------------------------------------------------------------
    def _dtype_keyword(self, node: cst.Call) -> str | None:
        for arg in node.args:
            if arg.keyword is not None and arg.keyword.value == "dtype":
                return self.scopes.qualify(arg.value)
        return None

    def _is_fp32(self, node: cst.BaseExpression) -> bool:
        """An expression known to hold fp32/fp64: `.float()`, `.to(torch.float32)`, fp32 factories."""
        if isinstance(node, cst.Name):
            return bool(self.functions) and node.value in self.functions[-1].fp32_names
        if not isinstance(node, cst.Call):
            return False
        if self._dtype_keyword(node) in FP32_DTYPES:
            return True
        if isinstance(node.func, cst.Attribute):
            method = node.func.attr.value
            if method in FP32_METHODS and not node.args:
                return True
            if method in ("to", "type") and any(self.scopes.qualify(a.value) in FP32_DTYPES for a in node.args):
                return True
        return False

    def _is_int(self, node: cst.BaseExpression) -> bool:
        if isinstance(node, cst.Name):
            return bool(self.functions) and node.value in self.functions[-1].int_names
        if not isinstance(node, cst.Call):
            return False
        if self._dtype_keyword(node) in INT_DTYPES:
            return True
        if isinstance(node.func, cst.Attribute) and node.func.attr.value in INT_METHODS and not node.args:
            return True
        return False

    # -- positions ------------------------------------------------------------------------
    def finish(self) -> FileFacts:
        """Resolve positions for what was recorded (skipped when nothing was)."""
        if self.pending:
            positions = MetadataWrapper(self.module, unsafe_skip_copy=True).resolve(PositionProvider)
            span = lambda node: _span(positions[node])  # noqa: E731
            for fact, node, statement in self.pending:
                self._place(fact, span(node), span(statement) if statement is not None else None)
        self.facts.noqa = noqa_lines(self.module.code)
        return self.facts

    def _place(self, fact, where: Span, statement: Span | None) -> None:
        if isinstance(fact, Setting):
            fact.span = where
            fact.call_span = statement or where  # for settings, the "statement" is the whole call
        elif isinstance(fact, OpSite):
            fact.span = where
            fact.statement_span = statement
        elif isinstance(fact, PluginCall):
            fact.span = where
        else:
            tag, owner, key = fact
            if tag == "call":
                self.call_spans.setdefault((owner, key), where)
            elif tag == "argument":
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


def _span(code_range) -> Span:
    return Span(code_range.start.line, code_range.start.column + 1, code_range.end.line, code_range.end.column + 1)


def _with_span(arg: Argument, where: Span, arg_span: Span | None = None) -> Argument:
    return Argument(name=arg.name, text=arg.text, span=where, value=arg.value, static=arg.static, arg_span=arg_span)


def guard_parse(text: str, path: str) -> None:
    """Raise SyntaxError (RecursionError, MemoryError) for code libcst must never see.

    libcst's native parser has no depth limit: a few thousand nested levels overflow
    the C stack and kill the whole process (SIGSEGV). CPython's parser refuses such
    code first, except long `and`/`or` chains, which it keeps flat and libcst nests.
    """
    tree = ast.parse(text, filename=path)
    if len(BOOL_WORD_RE.findall(text)) < BOOL_OPERANDS_MAX:
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.BoolOp) and len(node.values) > BOOL_OPERANDS_MAX:
            message = f"{len(node.values)} `and`/`or` operands in one expression, more than the parser handles"
            raise SyntaxError(f"{message} ({BOOL_OPERANDS_MAX})", (path, node.lineno, node.col_offset + 1, None))


def scan(path: str, text: str, index: OpIndex, companions=()) -> tuple[FileFacts, cst.Module | None]:
    """Facts of one file and its parsed module (None when no trigger word made it worth
    parsing); raises libcst.ParserSyntaxError or SyntaxError when it does not parse.

    `companions` are other batchable visitors (the PRC4xx one) walked in the
    same traversal: walking the tree costs as much as parsing it. A file
    without any trigger word has no facts to give; Python's own parser
    (several times faster than libcst's) still checks that it is valid code.
    """
    guard_parse(text, path)
    if not index.triggers.search(text) and not companions:
        return FileFacts(path=path, module=module_name_for(path)), None
    module = cst.parse_module(text)
    scanner = Scanner(path, module, index)
    cst.visit_batched(module, [scanner, *companions])
    return scanner.finish(), module


def locate_call(path: str, function: str, callee: str, index: OpIndex) -> Span | None:
    """Where `function` (a qualname in `path`) first calls `callee`: a second, positioned
    scan of one file, paid only when a cross-file chain is actually reported."""
    from pathlib import Path

    from advisor.scan import sourcefile
    try:
        module = cst.parse_module(sourcefile.read(Path(path)).text)
    except (sourcefile.InputError, cst.ParserSyntaxError):
        return None
    scanner = Scanner(path, module, index, locate_calls=True)
    cst.visit_batched(module, [scanner])
    scanner.finish()
    return scanner.call_spans.get((function, callee))
