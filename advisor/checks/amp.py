"""PRC4xx: plain PyTorch AMP, Hugging Face and Accelerate precision mistakes.

These rules read a training loop's structure (what runs inside an autocast
block, whether a GradScaler exists, the order of backward, unscale_ and
clipping), which the op patterns cannot express, so one small libcst visitor
records it. It runs only on files the trigger words hit. Each rule is a
function of the file's records (`AmpFile`); the fp16 choices that only
matter on a bf16-capable GPU are kept as facts (`AmpFacts`) and judged by
the target rules once the target is known (`target_findings`).
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from functools import cached_property

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from advisor.catalogue import Catalogue, load_catalogue
from advisor.checks import registry
from advisor.checks.registry import Hit, rule
from advisor.facts import AmpFacts, Span
from advisor.findings import Edit, Finding
from advisor.fix.edits import quote_like
from advisor.scan.files import module_name_for
from advisor.scan.imports import Scopes, dotted
from advisor.scan.opindex import amp_triggered
from advisor.scan.traversal import visit_batched
from advisor.scan.values import literal

AUTOCASTS = {  # qualified name -> (device, or None when it is the first argument; names of positional args)
    "torch.autocast": (None, ("device_type", "dtype", "enabled", "cache_enabled")),
    "torch.amp.autocast": (None, ("device_type", "dtype", "enabled", "cache_enabled")),
    "torch.amp.autocast_mode.autocast": (None, ("device_type", "dtype", "enabled", "cache_enabled")),
    "torch.cuda.amp.autocast": ("cuda", ("enabled", "dtype", "cache_enabled")),
    "torch.cpu.amp.autocast": ("cpu", ("enabled", "dtype", "cache_enabled")),
}
DEFAULT_DTYPES = {"cuda": "float16", "cpu": "bfloat16"}
DEPRECATED = {  # deprecated name -> (device, how the device is passed to the torch.amp replacement)
    "torch.cuda.amp.autocast": ("cuda", "positional"),
    "torch.cpu.amp.autocast": ("cpu", "positional"),
    "torch.cuda.amp.GradScaler": ("cuda", "positional"),
    "torch.cuda.amp.custom_fwd": ("cuda", "keyword"),
    "torch.cuda.amp.custom_bwd": ("cuda", "keyword"),
}
SCALERS = ("GradScaler", "ShardedGradScaler")
HALF_DTYPES = {"torch.float16": "float16", "torch.half": "float16", "torch.bfloat16": "bfloat16"}
CLIPS = ("torch.nn.utils.clip_grad_norm_", "torch.nn.utils.clip_grad_value_",
         "torch.nn.utils.clip_grad.clip_grad_norm_",
         "torch.nn.utils.clip_grad.clip_grad_value_")
BACKWARDS = ("torch.autograd.backward", "torch.autograd.grad")
OPTIMIZER_EPS = {"Adam": 1e-8, "AdamW": 1e-8, "Adamax": 1e-8, "NAdam": 1e-8, "RAdam": 1e-8, "RMSprop": 1e-8,
                 "Adagrad": 1e-10}
FP16_TINY = 6e-8  # fp16's smallest subnormal is 5.96e-8: a smaller eps rounds to 0
SAFE_EPS = "1e-4"
HF_ARGUMENTS = ("transformers.TrainingArguments", "transformers.Seq2SeqTrainingArguments",
                "transformers.training_args.TrainingArguments", "trl.SFTConfig", "trl.DPOConfig")
VERSION_TEST_RE = re.compile(r"hasattr\(|version")  # an if choosing by torch version
ACCELERATORS = ("accelerate.Accelerator", "accelerate.accelerator.Accelerator")


@dataclass
class _Autocast:
    node: cst.Call
    device: str | None  # "cuda", "cpu"... or None when not static
    dtype: str | None  # "float16" | "bfloat16" | None when not static
    dtype_arg: cst.Arg | None


class _Visitor(cst.BatchableCSTVisitor):
    """Records the AMP facts of one file in source order; positions are resolved later."""

    def __init__(self, path: str, walk=None):
        # With the scanner's walk state (advisor.scan.walk.Walk) its scopes and statements are shared:
        # the one walk tracks them, this visitor only records.
        self.shared = walk is not None
        self.scopes = walk.scopes if walk is not None else Scopes(module_name_for(path), {})
        self.torch_alias: str | None = None
        self.uses_lightning = False
        self.active: list[_Autocast] = []  # enclosing autocast blocks
        self.autocasts: list[_Autocast] = []
        self.scalers: list[cst.Call] = []
        self.backwards: list[tuple[cst.Call, bool]] = []  # (call, inside autocast)
        self.deprecated: list[tuple[cst.CSTNode, str, cst.Call | None]] = []  # (node, name, call or None)
        self.half_casts: list[tuple[cst.Call, str]] = []  # (call, the cast model's dotted name)
        self.called_in_autocast: set = set()
        # per function, in source order: ("scaled", scaler, path) ("unscale", scaler) ("step", scaler, opt)
        # and ("clip", call, statement, path); a path is the open branches, ((id of the if/for/try, part), ...)
        self.path: list[tuple] = []
        self.events: list[list] = [[]]  # the module's, then the open functions'
        self.function_events: list[list] = []  # of the functions already left
        self.optimizers: list[tuple] = []  # (call, name, eps argument or None, the model whose parameters it takes)
        self.true_fp16 = False  # a "16-true" precision: every parameter is fp16
        self.fp16_models: set = set()  # dotted names of models cast to fp16 (`model.half()`)
        self.hf: list[tuple[cst.Call, cst.Arg]] = []
        self.accelerate: list[tuple[cst.Call, cst.Arg]] = []
        self.statements: list[cst.CSTNode] = walk.statements if walk is not None else []
        self.statement_of: dict = {}  # recorded node -> its simple statement (whose last line a noqa may be on)
        self.guards: list[bool] = []  # per open if/try: does it choose between torch versions?

    # -- names and scopes ------------------------------------------------------
    def visit_Import(self, node: cst.Import) -> None:
        if not self.shared:
            self.scopes.add_import(node)
        for alias in node.names:
            name = dotted(alias.name) or ""
            if name == "torch":
                self.torch_alias = alias.asname.name.value if alias.asname else "torch"
            self.uses_lightning |= name.split(".")[0] in ("lightning", "pytorch_lightning")

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if not self.shared:
            self.scopes.add_import_from(node)
        module = dotted(node.module) if node.module else ""
        self.uses_lightning |= (module or "").split(".")[0] in ("lightning", "pytorch_lightning")

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if not self.shared:
            self.scopes.push()
        self.events.append([])

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        if not self.shared:
            self.scopes.pop()
        self.function_events.append(self.events.pop())

    # -- version guards: `if hasattr(torch.amp, "GradScaler"):`, `try: ... except AttributeError:` --
    def visit_If(self, node: cst.If) -> None:
        test = cst.Module([]).code_for_node(node.test)
        self.guards.append(bool(VERSION_TEST_RE.search(test)))

    def leave_If(self, original_node: cst.If) -> None:
        self.guards.pop()

    def visit_Try(self, node: cst.Try) -> None:
        caught = {dotted(h.type) for h in node.handlers if h.type is not None} | {
            dotted(e.value) for h in node.handlers if isinstance(h.type, cst.Tuple) for e in h.type.elements}
        self.guards.append(bool(caught & {"AttributeError", "ImportError", "ModuleNotFoundError"}))

    def leave_Try(self, original_node: cst.Try) -> None:
        self.guards.pop()

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        if not self.shared:
            self.statements.append(node)

    def leave_SimpleStatementLine(self, original_node: cst.SimpleStatementLine) -> None:
        if not self.shared:
            self.statements.pop()

    # -- autocast blocks -----------------------------------------------------------
    def _autocast(self, call: cst.Call) -> _Autocast | None:
        qualified = self.scopes.qualify(call.func)
        if qualified not in AUTOCASTS:
            return None
        device, names = AUTOCASTS[qualified]
        args = {}
        for position, arg in enumerate(a for a in call.args if a.keyword is None and not a.star):
            if position < len(names):
                args[names[position]] = arg
        args.update({a.keyword.value: a for a in call.args if a.keyword is not None})
        if "enabled" in args and literal(args["enabled"].value, self.scopes.qualify) is False:
            return None  # a disabled region is where fp32 code belongs
        if device is None:
            value = literal(args["device_type"].value, self.scopes.qualify) if "device_type" in args else None
            device = value if isinstance(value, str) else None
        dtype_arg = args.get("dtype")
        if dtype_arg is None:
            dtype = DEFAULT_DTYPES.get(device)
        else:
            dtype = HALF_DTYPES.get(self.scopes.qualify(dtype_arg.value) or "")
        return _Autocast(call, device, dtype, dtype_arg)

    def visit_With(self, node: cst.With) -> None:
        blocks = [self._autocast(item.item) for item in node.items if isinstance(item.item, cst.Call)]
        blocks = [b for b in blocks if b is not None]
        self.autocasts.extend(blocks)
        self.active.append(blocks[-1] if blocks else None)

    def leave_With(self, original_node: cst.With) -> None:
        self.active.pop()

    def _in_autocast(self) -> bool:
        return any(block is not None for block in self.active)

    # -- calls -----------------------------------------------------------------------
    def visit_Decorator(self, node: cst.Decorator) -> None:
        if not isinstance(node.decorator, cst.Call):
            qualified = self.scopes.qualify(node.decorator)
            if qualified in DEPRECATED and not any(self.guards):
                self.deprecated.append((node.decorator, qualified, None))

    def visit_Call(self, node: cst.Call) -> None:
        if self.statements:
            for part in (node, node.func, *node.args):
                self.statement_of[part] = self.statements[-1]
        qualified = self.scopes.qualify(node.func) or ""
        short = qualified.rsplit(".", 1)[-1]
        if qualified in DEPRECATED and not any(self.guards):  # a guarded one is the fallback for older torch
            self.deprecated.append((node.func, qualified, node))
        if short in SCALERS and qualified.startswith("torch."):
            self.scalers.append(node)
        if self._in_autocast():
            self.called_in_autocast.add(dotted(node.func))
        if qualified in CLIPS:
            self.events[-1].append(("clip", node, self.statements[-1] if self.statements else None, tuple(self.path)))
        elif qualified in BACKWARDS:
            self.backwards.append((node, self._in_autocast()))
        elif qualified.startswith("torch.optim.") and short in OPTIMIZER_EPS:
            eps = next((a for a in node.args if a.keyword is not None and a.keyword.value == "eps"), None)
            self.optimizers.append((node, short, eps, _parameters_of(node)))
        elif qualified in HF_ARGUMENTS:
            self._keyword_flag(node, "fp16", True, self.hf)
        elif qualified in ACCELERATORS:
            self._keyword_flag(node, "mixed_precision", "fp16", self.accelerate)
        for arg in node.args:
            if arg.keyword is not None and arg.keyword.value == "precision":
                self.true_fp16 |= literal(arg.value, self.scopes.qualify) in ("16-true", "transformer-engine-float16")
        if isinstance(node.func, cst.Attribute):
            self._method(node, node.func.attr.value, node.func.value)

    def _keyword_flag(self, node: cst.Call, name: str, value, into: list) -> None:
        for arg in node.args:
            if arg.keyword is not None and arg.keyword.value == name and \
                    literal(arg.value, self.scopes.qualify) == value:
                into.append((node, arg))

    def _method(self, node: cst.Call, name: str, receiver: cst.BaseExpression) -> None:
        owner = dotted(receiver)
        if name == "backward":
            self.backwards.append((node, self._in_autocast()))
            if isinstance(receiver, cst.Call) and isinstance(receiver.func, cst.Attribute) and \
                    receiver.func.attr.value == "scale" and dotted(receiver.func.value):
                self.events[-1].append(("scaled", dotted(receiver.func.value), tuple(self.path)))
        elif name == "unscale_" and owner:
            self.events[-1].append(("unscale", owner))
        elif name == "step" and owner and node.args:
            self.events[-1].append(("step", owner, dotted(node.args[0].value)))
        elif name in ("half", "bfloat16") and not node.args:
            self._half_cast(node, receiver, name == "half")
        elif name == "to" and any(HALF_DTYPES.get(self.scopes.qualify(a.value) or "") for a in node.args):
            fp16 = any(HALF_DTYPES.get(self.scopes.qualify(a.value) or "") == "float16" for a in node.args)
            self._half_cast(node, receiver, fp16)

    def _half_cast(self, node: cst.Call, receiver: cst.BaseExpression, fp16: bool) -> None:
        statement = self.statements[-1] if self.statements else None
        target = None
        if statement is not None and isinstance(statement.body[0], cst.Assign) and statement.body[0].value is node:
            targets = statement.body[0].targets
            target = dotted(targets[0].target) if len(targets) == 1 else None
        owner = target or dotted(receiver)
        if owner:
            self.half_casts.append((node, owner))
            if fp16:
                self.fp16_models.update({owner, dotted(receiver)} - {None})


# ---- what the rules read ----------------------------------------------------------------

class AmpFile:
    """One file's visitor records, with the positions of the nodes that end in a hit."""

    def __init__(self, path: str, text: str, module: cst.Module, visitor: _Visitor, shared_positions=None):
        self.path, self.text, self.module, self.v = path, text, module, visitor
        self.shared_positions = shared_positions  # the scanner's (advisor.scan.walk.Positions): resolved once per file
        self.newline = "\r\n" if "\r\n" in text else "\n"  # from the text: regenerating module.code costs a parse

    @cached_property
    def positions(self):
        """Resolved on the first hit: positions cost more than the parse, and most files have none."""
        return MetadataWrapper(self.module, unsafe_skip_copy=True).resolve(PositionProvider)

    def span(self, node: cst.CSTNode) -> Span:
        if self.shared_positions is not None:
            return self.shared_positions.span(node)
        where = self.positions[node]
        return Span(where.start.line, where.start.column + 1, where.end.line, where.end.column + 1)

    def start(self, node: cst.CSTNode) -> Span:
        s = self.span(node)
        return Span(s.line, s.column, s.line, s.column)

    def before_close(self, call: cst.Call) -> Span:
        s = self.span(call)
        return Span(s.end_line, s.end_column - 1, s.end_line, s.end_column - 1)

    def hit(self, node: cst.CSTNode, edits=(), **values) -> Hit:
        """A hit at `node`; a `# noqa` on the last line of its statement covers it too."""
        statement = self.v.statement_of.get(node)
        noqa_line = self.span(statement if statement is not None else node).end_line
        return Hit(self.span(node), values, tuple(edits), (noqa_line,))

    def torch_head(self, func: cst.BaseExpression, qualified_tail: str) -> str | None:
        """`th` when `func` is spelled `th.<qualified_tail>` with `th` bound to torch."""
        head = self.v.torch_alias
        return head if head and dotted(func) == f"{head}.{qualified_tail}" else None

    def append_keyword(self, call: cst.Call, keyword: str) -> Edit:
        if not call.args:
            return Edit(self.before_close(call), keyword)
        last = self.span(call.args[-1].value)
        return Edit(Span(last.end_line, last.end_column, last.end_line, last.end_column), ", " + keyword)

    def all_events(self) -> list:
        return self.v.function_events + self.v.events


# ---- rules that need no target --------------------------------------------------------------

@rule("PRC401", "file")
def deprecated_cuda_amp(amp: AmpFile) -> Iterator[Hit]:
    for func, name, call in amp.v.deprecated:
        device, style = DEPRECATED[name]
        short = name.rsplit(".", 1)[-1]
        head = amp.torch_head(func, name[len("torch."):])
        edits = []
        if head:
            edits = [Edit(amp.span(func), f"{head}.amp.{short}")]
            if call is None:  # a bare decorator
                edits[0] = Edit(amp.span(func), f'{head}.amp.{short}(device_type="{device}")')
            else:
                edits += _device_edits(amp, call, name, device, style)
        yield amp.hit(func, edits if edits and all(e is not None for e in edits) else (),
                      op=name, replacement=f"torch.amp.{short}", device=device)


def _device_edits(amp: AmpFile, call: cst.Call, name: str, device: str, style: str) -> list:
    positional = [a for a in call.args if a.keyword is None and not a.star]
    if style == "keyword":
        if positional:
            return [None]  # custom_fwd(fn): the plain decorator call form, left to the user
        first = f'device_type="{device}"'
    else:
        first = f'"{device}"'
    if not call.args:
        return [Edit(amp.before_close(call), first)]
    if name not in AUTOCASTS or not positional:
        return [Edit(amp.start(call.args[0]), first + ", ")]
    # torch.cuda.amp.autocast(enabled, dtype, ...) differs from torch.amp's (device_type, dtype, enabled):
    # name the positional arguments (they come first, so the device goes with the first name)
    names = AUTOCASTS[name][1]
    if len(positional) > len(names):
        return [None]
    return [Edit(amp.start(arg), (first + ", " if i == 0 else "") + f"{names[i]}=")
            for i, arg in enumerate(positional)]


@rule("PRC402", "file")
def gradscaler_with_bf16(amp: AmpFile) -> Iterator[Hit]:
    autocasts = amp.v.autocasts
    if amp.v.scalers and autocasts and all(a.dtype == "bfloat16" for a in autocasts):
        for scaler in amp.v.scalers:
            yield amp.hit(scaler)


@rule("PRC403", "file")
def fp16_without_gradscaler(amp: AmpFile) -> Iterator[Hit]:
    if not amp.v.scalers and not amp.v.uses_lightning and amp.v.backwards:
        for block in amp.v.autocasts:
            if block.device == "cuda" and block.dtype == "float16":
                yield amp.hit(block.node)


@rule("PRC405", "file")
def backward_inside_autocast(amp: AmpFile) -> Iterator[Hit]:
    for call, inside in amp.v.backwards:
        if inside:
            yield amp.hit(call)


@rule("PRC406", "file")
def clip_before_unscale(amp: AmpFile) -> Iterator[Hit]:
    steps = {e[1]: e[2] for events in amp.all_events() for e in events if e[0] == "step" and e[2]}
    for events in amp.all_events():
        scaled: dict = {}  # scaler -> the path its scale(loss).backward() ran on
        for position, event in enumerate(events):
            if event[0] == "scaled":
                scaled[event[1]] = event[2]
            elif event[0] == "unscale":
                scaled.pop(event[1], None)
            elif event[0] == "clip":
                for scaler, path in list(scaled.items()):
                    if _exclusive(path, event[3]):
                        continue  # the clip is on the other branch (`else: loss.backward()`): nothing scaled
                    later = any(e[0] == "unscale" and e[1] == scaler for e in events[position:])
                    on_path = event[3][:len(path)] == path  # scaled on every way to this clip
                    edit = None if later or not on_path else _unscale_edit(amp, event[2], scaler, steps.get(scaler))
                    yield amp.hit(event[1], [edit] if edit else (), scaler=scaler,
                                  optimizer=steps.get(scaler) or "optimizer")


def _unscale_edit(amp: AmpFile, statement: cst.CSTNode | None, scaler: str, optimizer: str | None
                  ) -> Edit | None:
    if statement is None or optimizer is None:
        return None
    where = amp.span(statement)
    line = amp.text.splitlines()[where.line - 1]
    indent = line[:where.column - 1]
    if indent.strip():
        return None  # the statement shares its line (`if x: clip(...)`)
    return Edit(Span(where.line, where.column, where.line, where.column),
                f"{scaler}.unscale_({optimizer}){amp.newline}{indent}")


@rule("PRC407", "file")
def half_cast_under_autocast(amp: AmpFile) -> Iterator[Hit]:
    for call, owner in amp.v.half_casts:
        if owner in amp.v.called_in_autocast:
            yield amp.hit(call, owner=owner)


@rule("PRC408", "file")
def optimizer_eps_underflows_fp16(amp: AmpFile) -> Iterator[Hit]:
    for call, name, eps_arg, model in amp.v.optimizers:
        if not (amp.v.true_fp16 or model in amp.v.fp16_models):
            continue  # fp32 parameters (mixed precision keeps them): the default eps is fine
        eps = literal(eps_arg.value, lambda n: None) if eps_arg is not None else OPTIMIZER_EPS[name]
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not 0 <= eps < FP16_TINY:
            continue
        if eps_arg is not None:
            edits, node = [Edit(amp.span(eps_arg.value), SAFE_EPS)], eps_arg
        else:
            one_line = amp.span(call).line == amp.span(call).end_line
            edits = [amp.append_keyword(call, f"eps={SAFE_EPS}")] if one_line else []
            node = call.func
        yield amp.hit(node, edits, optimizer=name, eps=f"{eps:g}", safe=SAFE_EPS)


# ---- fp16 choices, kept for the target ----------------------------------------------------

def _fp16_autocasts(amp: AmpFile) -> list:
    hits = []
    for block in amp.v.autocasts:
        if block.device != "cuda" or block.dtype != "float16":
            continue
        edits: tuple = ()
        if block.dtype_arg is not None:
            text = dotted(block.dtype_arg.value)
            if text and "." in text:
                edits = (Edit(amp.span(block.dtype_arg.value), text.rpartition(".")[0] + ".bfloat16"),)
        elif amp.v.torch_alias:
            edits = (amp.append_keyword(block.node, f"dtype={amp.v.torch_alias}.bfloat16"),)
        hits.append(amp.hit(block.node, edits, op=dotted(block.node.func) or "autocast"))
    return hits


def _hf_fp16(amp: AmpFile) -> list:
    hits = []
    for call, arg in amp.v.hf:
        conflict = any(a.keyword is not None and a.keyword.value == "bf16" for a in call.args)
        hits.append(amp.hit(arg, () if conflict else (Edit(amp.span(arg.keyword), "bf16"),), callee=dotted(call.func)))
    return hits


def _accelerate_fp16(amp: AmpFile) -> list:
    return [amp.hit(arg, (Edit(amp.span(arg.value), quote_like(amp.module.code_for_node(arg.value), "bf16")),),
                    callee=dotted(call.func)) for call, arg in amp.v.accelerate]


# ---- rules that need the target ----------------------------------------------------------

@dataclass(frozen=True)
class AmpTarget:
    """A file's fp16 choices and the target's CUDA compute capability (None: not a CUDA GPU)."""

    facts: AmpFacts
    capability: tuple | None

    def on_bf16_gpu(self, hits: list) -> Iterator[Hit]:
        """fp16 needs a GradScaler and overflows where bf16 does not; from 8.0 on bf16 runs
        at the same speed, so every fp16 choice gets a recommended switch."""
        if self.capability is None or tuple(self.capability) < (8, 0):
            return
        capability = "{}.{}".format(*self.capability)
        for hit in hits:
            yield replace(hit, values=dict(hit.values, capability=capability))


@rule("PRC404", "target")
def fp16_autocast_on_bf16_gpu(target: AmpTarget) -> Iterator[Hit]:
    return target.on_bf16_gpu(target.facts.fp16_autocasts)


@rule("PRC409", "target")
def hf_fp16_on_bf16_gpu(target: AmpTarget) -> Iterator[Hit]:
    return target.on_bf16_gpu(target.facts.hf_fp16)


@rule("PRC410", "target")
def accelerate_fp16_on_bf16_gpu(target: AmpTarget) -> Iterator[Hit]:
    return target.on_bf16_gpu(target.facts.accelerate_fp16)


def _parameters_of(optimizer: cst.Call) -> str | None:
    """`model` in `Adam(model.parameters(), ...)` (or `params=`), else None."""
    args = [a for a in optimizer.args if a.keyword is None or a.keyword.value == "params"]
    value = args[0].value if args else None
    if isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and value.func.attr.value == "parameters":
        return dotted(value.func.value)
    return None


def _exclusive(first: tuple, second: tuple) -> bool:
    """Two paths that part in different parts of one if/try (the if body and its else)."""
    for a, b in zip(first, second, strict=False):
        if a != b:
            return a[0] == b[0]
    return False


def _add_branch_visitors(node: str, part: str) -> None:
    """`visit_If_body`/`leave_If_body`... keep `_Visitor.path` (libcst finds them by __name__)."""
    def enter(self, node) -> None:
        self.path.append((id(node), part))

    def leave(self, original_node) -> None:
        self.path.pop()
    for prefix, method in (("visit", enter), ("leave", leave)):
        method.__name__ = f"{prefix}_{node}_{part}"
        setattr(_Visitor, method.__name__, method)


for _node, _parts in {"If": ("body", "orelse"), "Try": ("body", "handlers", "orelse", "finalbody"),
                      "For": ("body", "orelse"), "While": ("body", "orelse")}.items():
    for _part in _parts:
        _add_branch_visitors(_node, _part)


# ---- entry points -------------------------------------------------------------------------------

def visitor_for(path: str, text: str, walk=None) -> _Visitor | None:
    """A visitor to run in the scanner's traversal (scan.traversal.visit_batched), or None when no
    trigger word occurs and no PRC4xx rule can apply; `walk` is the scanner's walk state."""
    return _Visitor(path, walk) if amp_triggered(text) else None


def check_amp(path: str, text: str, catalogue: Catalogue, module: cst.Module | None = None,
              visited: _Visitor | None = None, noqa: dict | None = None, positions=None
              ) -> tuple[list, AmpFacts | None]:
    """PRC4xx findings that need no target, and the facts the target rules need.

    `module` is the scanner's parse of `text` and `visited` the visitor that
    already walked it with the scanner; both are optional. ([], None) when
    no trigger word occurs or the file does not parse (the scanner reports
    the parse error).
    """
    visitor = visited or visitor_for(path, text)
    if visitor is None:
        return [], None
    if visited is None:
        try:
            module = module or cst.parse_module(text)
        except (cst.ParserSyntaxError, RecursionError):
            return [], None
        visit_batched(module, [visitor])
    amp = AmpFile(path, text, module, visitor, positions)
    findings = registry.judge("amp", "file", amp, catalogue, path, noqa)
    return findings, AmpFacts(path, _fp16_autocasts(amp), _hf_fp16(amp), _accelerate_fp16(amp))


def target_findings(facts: Iterable[AmpFacts], target_capability: tuple | None,
                    catalogue: Catalogue | None = None, noqa: dict | None = None) -> list[Finding]:
    """PRC404/PRC409/PRC410 for a CUDA target of compute capability (major, minor);
    `noqa` maps a path to its `# noqa` lines."""
    catalogue = catalogue or load_catalogue()
    noqa = noqa or {}
    return [finding for file in facts
            for finding in registry.judge("amp", "target", AmpTarget(file, target_capability), catalogue, file.path,
                                          noqa.get(file.path))]
