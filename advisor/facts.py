"""Facts that analysis records: what is in the code, before any rule judges it.

Both ways in (the libcst scanner and the torch tracer) produce these plain
dataclasses, so the advisor and the rules never care where a fact came from.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from advisor.findings import Fix


@dataclass(frozen=True)
class Span:
    """A source range with 1-based lines and columns (end exclusive)."""

    line: int
    column: int
    end_line: int
    end_column: int


@dataclass(frozen=True)
class Argument:
    """One keyword argument of a recorded call: its source text and static value."""

    name: str
    text: str
    span: Span
    value: object = None  # the literal value when static, else None
    static: bool = False
    arg_span: Span | None = None  # `name=value` as a whole (no comma), for removing it


@dataclass(frozen=True)
class Literal:
    """One literal a value can take: a conditional of literals has several."""

    value: object
    text: str
    span: Span


@dataclass
class PluginCall:
    """A plugin constructed in a setting's `plugins=`, e.g. BitsandbytesPrecision(mode="nf4")."""

    name: str  # qualified name, e.g. lightning.pytorch.plugins.BitsandbytesPrecision
    span: Span
    arguments: dict[str, Argument] = field(default_factory=dict)
    conditional: bool = False  # built through a name assigned in a branch, or assigned more than once

    @property
    def short_name(self) -> str:
        return self.name.rsplit(".", 1)[-1]


@dataclass
class Setting:
    """A precision setting: a Trainer/Fabric call or a LightningCLI default.

    `values` holds every literal the precision can take (several for a
    conditional of literals); `normalized` is set only when they all agree.
    """

    kind: str  # "Trainer" | "Fabric" | "LightningCLI"
    path: str
    callee: str  # qualified name of the class called, e.g. lightning.pytorch.Trainer
    span: Span  # of the callee name
    call_span: Span  # of the whole call
    precision: Argument | None = None
    literals: tuple = ()  # Literal precision values, in source order (empty when not static)
    normalized: str | None = None
    plugins: list[str] = field(default_factory=list)  # qualified names (or text) of plugin calls
    plugin_calls: list[PluginCall] = field(default_factory=list)
    plugins_arg: Argument | None = None
    accelerator: str | None = None
    devices: str | None = None
    strategy: str | None = None
    arguments: dict[str, Argument] = field(default_factory=dict)
    has_star_kwargs: bool = False
    multiline: bool = False  # one argument per line (decides how --fix adds a keyword)
    unproven: str | None = None  # why the callee may not behave as Lightning's (None: proven)
    lite: bool = False  # a Lightning 1.x LightningLite subclass: Fabric's predecessor

    @property
    def line(self) -> int:
        return self.span.line

    @property
    def values(self) -> tuple:
        return tuple(literal.value for literal in self.literals)

    def to_json(self) -> dict:
        return {
            "kind": self.kind,
            "path": self.path,
            "line": self.span.line,
            "column": self.span.column,
            "callee": self.callee,
            "precision": self.precision.text if self.precision else None,
            "normalized": self.normalized,
            "values": [str(v) for v in self.values],
            "plugins": list(self.plugins),
            "accelerator": self.accelerator,
            "devices": self.devices,
            "strategy": self.strategy,
        }


@dataclass
class OpSite:
    """A call to an operation that a PRC2xx rule may care about.

    `op` is the canonical dotted name (torch.scatter_add, Tensor.index_add_,
    torch_scatter.scatter); `context` says where it runs: forward, step,
    helper, init, backward, data, module (top level).
    """

    op: str
    path: str
    span: Span
    kind: str  # "function" | "method" | "module" | "subclass" | "constant"
    context: str = "helper"
    function: str | None = None  # enclosing function qualified within the file, e.g. Net.forward
    keywords: dict[str, object] = field(default_factory=dict)  # static keyword values
    keyword_names: tuple = ()  # every keyword passed, static or not
    in_fp32_region: bool = False  # computes in fp32/fp64: fp32 inputs by construction or by cast
    integer: bool = False  # its data is integer (counts, indices): nothing to lose in half precision
    autocast_off: bool = False  # inside `torch.autocast(..., enabled=False)`
    detail: str = ""  # extra words for the message (the literal constant, the chain...)
    source: str = "static"  # "static" | "trace"
    chain: tuple = ()  # for cross-file reports: the call chain that reaches the op
    statement_span: Span | None = None  # the enclosing simple statement, for fixes
    flows: tuple = ()  # indices of the enclosing function's parameters whose data reaches the op
    safe_unless: tuple | None = None  # fp32 by construction unless a caller passes one of these parameters
    parameters: tuple = ()  # (argument key, parameter index): arguments that pass a parameter on (`reduce=reduce`)
    observed: str = ""  # traced sites: what ran (dtype, precision, library chain), for the message
    fp32_fix: Fix | None = None  # the call rewritten to compute in fp32 (advisor.fix.fp32), built where it was parsed


@dataclass
class FileFacts:
    """Everything the scanner learned about one file."""

    path: str
    module: str = ""  # dotted module name the file would import as
    settings: list[Setting] = field(default_factory=list)
    ops: list[OpSite] = field(default_factory=list)
    noqa: dict[int, frozenset | None] = field(default_factory=dict)  # line -> codes (None = all)
    functions: dict[str, FunctionInfo] = field(default_factory=dict)
    imports_torch_as: str | None = None  # how the file names torch ("torch", "T"...), for fixes
    amp: object | None = None  # advisor.checks.amp.AmpFacts: what the PRC4xx target rules need
    optimizers: list[tuple[str, dict]] = field(default_factory=list)  # (qualified class, static keywords) built
    init_module: bool = False  # a model is built under trainer.init_module() / fabric.init_module()
    classes: dict[str, ClassInfo] = field(default_factory=dict)  # top-level and nested, by qualname
    bindings: dict[str, str] = field(default_factory=dict)  # module-level imported names -> qualified names
    star_imports: tuple = ()  # modules star-imported at module level (absolute dotted names)
    all_names: tuple | None = None  # a static `__all__`
    parsed: bool = True  # False when no trigger word made the file worth a libcst parse


@dataclass
class CallEdge:
    """A call from a project function to something that may be a project function.

    `callee` is qualified through the file's imports (`pkg.nn.scatter_add`), or
    `self.NAME` for a call on the instance (a method, or an attribute whose class
    is known); `args` says, per argument, which of the caller's parameters reach
    it and what dtype it is known to have ("int", "fp32" or None).
    """

    callee: str
    text: str  # the callee as written, for the chain: `snn.scatter_add`
    span: Span | None = None
    args: tuple = ()  # ((flows, dtype, static value or NOT_STATIC), ...) for positional arguments
    keywords: tuple = ()  # ((name, flows, dtype, static value or NOT_STATIC), ...)
    autocast_off: bool = False  # inside `torch.autocast(..., enabled=False)`: the callee runs without autocast


@dataclass
class FunctionInfo:
    """A function defined in a scanned file, for call chains across the project."""

    qualname: str  # module-level name, or Class.method
    path: str
    module: str  # dotted module name guessed from the path
    context: str
    calls: list[CallEdge] = field(default_factory=list)
    params: tuple = ()  # parameter names in order (`self` included)
    owner: str | None = None  # qualname of the class a method belongs to


@dataclass
class ClassInfo:
    """A class defined in a scanned file: its bases and what its instances hold."""

    qualname: str
    bases: tuple = ()  # qualified (or file-local) base names
    attributes: dict[str, str] = field(default_factory=dict)  # `self.x = Cls(...)` -> qualified Cls
    accumulates: bool | None = None  # MessagePassing aggregation: False for max/min, None when unknown
    aggr_set: bool = False  # its own __init__ chooses the aggregation (else a base class's choice holds)
    aggr_attribute: str | None = None  # `super().__init__(aggr=self.NAME)`: the class attribute NAME decides
    attribute_accumulates: dict[str, bool | None] = field(default_factory=dict)  # class-body `NAME = "max"`, judged


@dataclass(frozen=True)
class ModelCensus:
    """Parameter counts of a model, from the meta device (no weights allocated)."""

    name: str
    params: int
    trainable_params: int
    linear_params: int  # parameters inside nn.Linear layers (what bitsandbytes quantizes)
    buffers: int = 0
    by_module_type: tuple = ()  # ((type name, params), ...)

    @property
    def linear_share(self) -> float:
        return self.linear_params / self.params if self.params else 0.0


class _NotStatic:
    """A value the scan cannot know without running the code."""


    def __repr__(self) -> str:
        return "NOT_STATIC"

    def __reduce__(self):  # pickles by reference, so `is NOT_STATIC` holds across processes
        return "NOT_STATIC"


NOT_STATIC = _NotStatic()


@dataclass
class AmpFacts:
    """What a file's AMP code leaves for the target rules: its fp16 choices, as hits
    (fp16 autocast blocks, HF `fp16=True`, Accelerate "fp16"), that bf16 GPUs do not need."""

    path: str
    fp16_autocasts: list = field(default_factory=list)
    hf_fp16: list = field(default_factory=list)
    accelerate_fp16: list = field(default_factory=list)
