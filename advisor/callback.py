"""`PrecisionAdvisor`: a Lightning callback that checks the real run, on the real device.

    from advisor import PrecisionAdvisor
    trainer = L.Trainer(precision="bf16-mixed", callbacks=[PrecisionAdvisor()])

At setup it reads what is real (device, precision plugin, strategy, devices,
the model's parameters) and applies the hardware rules to those facts; during
the first training step(s) the dtype-recording dispatch recorder of `--trace`
sees every op of `training_step`, where the user wrote it and in which dtype it
really ran, and the op rules judge them; the loss, the first op that made an
inf/NaN and a GradScaler's scale around each optimizer step go to the runtime
rules (PRC5xx); the live optimizer goes to the memory model. Then it removes
itself from the Trainer: later steps pay nothing. Rank zero reports (one warning per finding,
a summary in the log, `prec-advisor.json` in the log dir, the JSON contract of
`check`); `strict=True` raises `PrecisionAdvisorError` on every rank before the
optimizer step of the step that showed the finding (after it for a GradScaler's
skip: the skipped step changed no weight). Any error of the callback itself
becomes one warning.
"""
from __future__ import annotations

import contextlib
import inspect
import json
import logging
import os
import traceback
import warnings
from dataclasses import replace
from pathlib import Path

import torch

from advisor import engine, lightning
from advisor.catalogue import load_catalogue
from advisor.checks.hardware import hardware_findings
from advisor.checks.project import op_findings
from advisor.checks.runtime import StepRecord, step_findings
from advisor.commands import output
from advisor.config import Config
from advisor.facts import Argument, FileFacts, Literal, PluginCall, Setting, Span
from advisor.hardware import memory
from advisor.hardware.detect import detect
from advisor.hardware.recommend import recommend
from advisor.scan.noqa import noqa_lines
from advisor.trace import census, dispatch
from advisor.trace.api import add_to_facts, op_sites
from advisor.userpaths import is_user_file

log = logging.getLogger("prec_advisor")
REPORT_NAME = "prec-advisor.json"
REPORTED = ("error", "warning")  # what strict mode stops for
BNB_MODES = {"_NF4Linear": "nf4", "_NF4DQLinear": "nf4-dq", "_FP4Linear": "fp4", "_FP4DQLinear": "fp4-dq",
             "_Linear8bitLt": "int8-training", "_Int8LinearInference": "int8"}
STRATEGY_NAMES = {"DDPStrategy": "ddp", "FSDPStrategy": "fsdp", "DeepSpeedStrategy": "deepspeed",
                  "SingleDeviceStrategy": None, "ModelParallelStrategy": "fsdp"}


class PrecisionAdvisorWarning(UserWarning):
    """One finding of the real run: code, message, file:line."""


class PrecisionAdvisorError(RuntimeError):
    """strict=True: a finding that dooms the run, raised before the first optimizer step."""


def _user_location() -> tuple:
    """(path, line) of the innermost user frame on the stack: where `trainer.fit(...)` was called."""
    for frame in reversed(traceback.extract_stack()):
        if is_user_file(frame.filename):
            return frame.filename, frame.lineno
    return "<run>", 0


def _plugin_call(plugin, span: Span) -> PluginCall | None:
    """BitsandbytesPrecision as the static facts describe a `plugins=` call, from the live object."""
    if type(plugin).__name__ != "BitsandbytesPrecision":
        return None
    mode = BNB_MODES.get(getattr(getattr(plugin, "_linear_cls", None), "__name__", ""), "nf4")
    dtype = str(plugin.dtype)  # "torch.bfloat16", as source text spells it
    arguments = {"mode": Argument("mode", repr(mode), span, mode, True),
                 "dtype": Argument("dtype", dtype, span, None, False)}
    return PluginCall(f"lightning.pytorch.plugins.{type(plugin).__name__}", span, arguments)


def run_setting(trainer, path: str, line: int) -> Setting:
    """The Trainer's real precision, plugin, accelerator, devices and strategy as a Setting fact."""
    accelerator = type(trainer.accelerator).__name__.replace("Accelerator", "").lower()
    return setting_of(str(trainer.precision), trainer.precision_plugin, "gpu" if accelerator == "cuda" else accelerator,
                      trainer.num_devices, type(trainer.strategy).__name__, path, line)


def setting_of(precision: str, plugin, accelerator: str, devices: int, strategy: str, path: str, line: int) -> Setting:
    """A Setting as the scanner records a `Trainer(...)` call, from the live values."""
    span = Span(line, 1, line, 1)
    call = _plugin_call(plugin, span)
    return Setting(kind="Trainer", path=path, callee="lightning.pytorch.Trainer", span=span, call_span=span,
                   precision=Argument("precision", repr(precision), span, precision, True),
                   literals=(Literal(precision, repr(precision), span),), normalized=lightning.normalize(precision),
                   plugins=[call.name] if call else [], plugin_calls=[call] if call else [],
                   accelerator=accelerator, devices=str(devices), strategy=STRATEGY_NAMES.get(strategy, strategy))


def optimizer_of(optimizers) -> memory.Optimizer:
    """The live optimizers as the memory model counts them: their class and settings (`defaults`, and a
    bitsandbytes optimizer's `args`: optim_bits), through the same table as the scanned constructor calls."""
    built = []
    for optimizer in optimizers:
        args = getattr(optimizer, "args", None)  # bitsandbytes keeps optim_bits there
        keywords = {**optimizer.defaults, **(vars(args) if args is not None else {})}
        built.append(memory.optimizer_from(f"{type(optimizer).__module__}.{type(optimizer).__qualname__}", keywords))
    return memory.choose_optimizer(o for o in built if o is not None)


def training_step_line(module, fallback: tuple) -> tuple:
    """(path, line) of the `def training_step` the module runs, where a step's findings go;
    `fallback` when its source cannot be found (a compiled or generated module)."""
    try:
        function = inspect.unwrap(type(module).training_step)
        return str(Path(inspect.getsourcefile(function)).resolve()), inspect.getsourcelines(function)[1]
    except (TypeError, OSError):
        return fallback


def _loss_value(output) -> float | None:
    """The loss `training_step` returned (a tensor or a dict's "loss"), as a float."""
    loss = output.get("loss") if isinstance(output, dict) else output
    return float(loss.detach().float()) if isinstance(loss, torch.Tensor) and loss.numel() == 1 else None


def _origin_text(site: dict) -> str:
    """"`aten.mul.Tensor` (torch.float16) on this line": the first op of the step that made inf/NaN,
    on the finding's line when it is the user's, else in the library layers named."""
    where = "on this line" if site.get("path") else f"in {' > '.join(site['chain']) or 'a library'}"
    return f"`{site['op']}` ({', '.join(site['dtypes']) or 'no floating dtype'}) {where}"


def _scaler(trainer):
    """The precision plugin's GradScaler (16-mixed; MixedPrecision and FSDPPrecision), or None."""
    return getattr(trainer.precision_plugin, "scaler", None)


def _file_noqa(path: str) -> dict:
    """The `# noqa` lines of a file of the user's ({} when it cannot be read)."""
    try:
        return noqa_lines(Path(path).read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return {}


def run_facts(trainer, module, counted, target) -> dict:
    """What is real about this run, for the report."""
    device = trainer.strategy.root_device
    facts = {"device": str(device), "target": target.name, "precision": str(trainer.precision),
             "precision_plugin": type(trainer.precision_plugin).__name__,
             "strategy": type(trainer.strategy).__name__, "devices": trainer.num_devices,
             "world_size": trainer.world_size, "params": counted.params, "trainable_params": counted.trainable_params,
             "param_dtypes": sorted({str(p.dtype) for p in module.parameters()}),
             "quantized_layers": sum(1 for m in module.modules() if type(m).__module__.startswith("bitsandbytes"))}
    if device.type == "cuda":
        facts["capability"] = ".".join(map(str, torch.cuda.get_device_capability(device)))
        facts["memory_gib"] = round(torch.cuda.get_device_properties(device).total_memory / 2**30, 1)
    return facts


class AdvisorHooks:
    """The callback's hooks and work, mixed into Lightning's `Callback` of either namespace."""

    def __init__(self, steps: int = 1, strict: bool = False, report: str | None = REPORT_NAME):
        super().__init__()
        self.steps, self.strict, self.report_name = steps, strict, report
        self.findings: list = []  # the Findings reported, for programs and tests
        self.report_path: str | None = None
        self._catalogue = load_catalogue()
        self._setting = self._target = self._counted = self._facts = self._recorder = None
        self._optimizer = memory.ADAM_ASSUMED
        self._raw: list = []
        self._records: list = []  # StepRecords of the steps done; `_step` is the one running
        self._step: dict = {}
        self._step_at: tuple = ("<run>", 0)
        self._noqa_lines: dict = {}  # path -> its noqa comments, read once
        self._steps_seen = 0
        self._done = False

    # ---- Lightning hooks: each is guarded, so a failure here never ends the user's run ----

    def setup(self, trainer, pl_module, stage):
        if stage == "fit":
            self._guarded(trainer, self._setup, trainer, pl_module)

    def on_train_start(self, trainer, pl_module):
        self._guarded(trainer, self._read_optimizers, trainer)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self._guarded(trainer, self._start_recording)

    def on_before_backward(self, trainer, pl_module, loss):
        self._guarded(trainer, self._stop_recording)
        if _scaler(trainer) is None:  # a GradScaler hands the hooks the scaled loss: read it at the batch end
            self._guarded(trainer, self._read_loss, loss)

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        if not self._done:
            self._guarded(trainer, self._before_optimizer_step, trainer)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if not self._done:
            self._guarded(trainer, self._end_step, trainer, outputs)
        self._steps_seen += 1
        if self._steps_seen >= self.steps:
            self._guarded(trainer, self._finish, trainer)

    def on_exception(self, trainer, pl_module, exception):
        with contextlib.suppress(Exception):  # the run already failed: only leave the modes
            self._stop_recording()

    # ---- the work ----

    def _setup(self, trainer, pl_module):
        path, line = _user_location()
        self._setting = run_setting(trainer, path, line)
        self._target = detect(use_torch=True).target()
        self._counted = census.count(pl_module, type(pl_module).__name__)
        self._facts = run_facts(trainer, pl_module, self._counted, self._target)
        self._step_at = training_step_line(pl_module, (path, line))

    def _read_optimizers(self, trainer):
        """The optimizers exist from the start of training on (configure_optimizers ran after setup)."""
        self._optimizer = optimizer_of(trainer.optimizers)
        self._facts["optimizer"] = self._optimizer.to_json()

    def _start_recording(self):
        if self._recorder is None and not self._done:
            self._recorder = dispatch.recorder_class()(watch_values=True)
            self._recorder.watcher.__enter__()
            self._recorder.__enter__()

    def _stop_recording(self):
        if self._recorder is not None:
            recorder, self._recorder = self._recorder, None
            recorder.__exit__(None, None, None)
            recorder.watcher.__exit__(None, None, None)
            self._raw += recorder.sites.list()
            if recorder.origin is not None:
                self._step.setdefault("origin", recorder.origin)
            if recorder.error is not None:
                raise recorder.error

    def _read_loss(self, loss):
        self._step["loss"] = _loss_value(loss)

    def _before_optimizer_step(self, trainer):
        self._stop_recording()
        scaler = _scaler(trainer)
        if scaler is not None:
            self._step.setdefault("scale_before", scaler.get_scale())
        if self.strict:
            self._stop_if_doomed(trainer, "before its optimizer step")

    def _end_step(self, trainer, outputs):
        """Close the step's record; under a GradScaler its loss and its scale after the (maybe skipped) step."""
        scaler = _scaler(trainer)
        if scaler is not None:
            self._step.update(loss=_loss_value(outputs), scale_after=scaler.get_scale())
        self._records.append(self._record())
        self._step = {}
        if self.strict and scaler is not None:  # a skipped step changed no weight
            self._stop_if_doomed(trainer, "after a skipped optimizer step, with the weights untouched")

    def _record(self) -> StepRecord:
        step, origin = self._step, self._step.get("origin")
        user_line = origin is not None and origin.get("path")
        path, line = (origin["path"], origin["line"]) if user_line else self._step_at
        return StepRecord(len(self._records) + 1, self._facts["precision"], path, line, step.get("loss"),
                          _origin_text(origin) if origin else None, step.get("scale_before"), step.get("scale_after"))

    def _judge(self):
        """Findings of the ops recorded so far and of the run's facts, as `check` judges them."""
        precision = self._setting.normalized or str(self._setting.precision.value)
        sites = [site for raw in self._raw if raw.get("path")
                 for site in op_sites(raw, raw["path"], self._catalogue, precision)]
        setting_file = FileFacts(path=self._setting.path, settings=[self._setting], noqa=self._noqa(self._setting.path))
        facts = add_to_facts([setting_file], sites)
        report = engine.Report(files_checked=len(facts))
        report.facts, report.settings = facts, [self._setting]
        found = op_findings(facts, self._catalogue)
        fp32_ops = [s for s in sites if any(f.path == s.path and f.line == s.span.line for f in found)]
        advice = recommend(self._target, [self._setting], fp32_ops, self._counted,
                           devices=self._facts["devices"], optimizer=self._optimizer)
        noqa = {f.path: f.noqa for f in facts}
        found += hardware_findings([self._setting], self._target, advice, self._catalogue, self._counted, noqa)
        records = self._records + ([self._record()] if self._step else [])
        found += step_findings(records, self._catalogue, {r.path: self._noqa(r.path) for r in records})
        engine.add_findings(report, [replace(f, fix=None) for f in found], Config())
        report.recommendation = advice
        return report

    def _noqa(self, path: str) -> dict:
        if path not in self._noqa_lines:
            self._noqa_lines[path] = _file_noqa(path)
        return self._noqa_lines[path]

    def _stop_if_doomed(self, trainer, when: str):
        report = self._judge()
        doomed = [f for f in report.findings if f.severity in REPORTED]
        if doomed:
            self._report(trainer, report)
            first = doomed[0]
            raise PrecisionAdvisorError(f"{first.code} at {first.path}:{first.line}: {first.message} "
                                        f"(PrecisionAdvisor(strict=True) stopped the run in training step "
                                        f"{self._steps_seen + 1}, {when}; {len(doomed)} finding(s))")

    def _finish(self, trainer):
        self._stop_recording()
        self._done = True
        self._report(trainer, self._judge())
        self._remove(trainer)

    def _report(self, trainer, report):
        self.findings = list(report.findings)
        folder = Path(trainer.log_dir or trainer.default_root_dir)  # log_dir broadcasts: every rank asks
        if not trainer.is_global_zero or getattr(self, "_reported", False):
            return
        self._reported = True
        for finding in report.findings:
            warnings.warn(PrecisionAdvisorWarning(
                f"{finding.path}:{finding.line}: {finding.code} {finding.message}"), stacklevel=2)
        log.warning("PrecisionAdvisor: %d finding(s) in the first %d training step(s) on %s under %s",
                    len(report.findings), max(self._steps_seen, 1), self._facts["target"],
                    self._facts["precision"])
        if self.report_name:
            folder.mkdir(parents=True, exist_ok=True)
            data = output.to_json(report)
            data["run"] = self._facts
            self.report_path = str(folder / self.report_name)
            Path(self.report_path).write_text(json.dumps(data, indent=2) + "\n")

    def _remove(self, trainer):
        """A new list without us: the Trainer is iterating over the old one right now."""
        trainer.callbacks = [c for c in trainer.callbacks if c is not self]

    def _guarded(self, trainer, work, *args):
        try:
            work(*args)
        except PrecisionAdvisorError:
            raise
        except Exception as exc:
            self._stop_recording()
            if self.strict:
                raise
            self._done = True
            if trainer.is_global_zero:
                where = traceback.extract_tb(exc.__traceback__)[-1]
                warnings.warn(PrecisionAdvisorWarning(
                    f"PrecisionAdvisor stopped itself, the run goes on: {type(exc).__name__}: {exc} "
                    f"(at {os.path.basename(where.filename)}:{where.lineno})"), stacklevel=2)
            self._remove(trainer)


def _callback_class(base):
    return type("PrecisionAdvisor", (AdvisorHooks, base), {
        "__module__": __name__, "__doc__": "Checks the real run: see the module docstring (`advisor.callback`)."})


def _lightning_base():
    from lightning.pytorch import Callback

    return Callback


PrecisionAdvisor = _callback_class(_lightning_base())


def for_pytorch_lightning():
    """The same callback for the `pytorch_lightning` namespace (its Trainer checks its own Callback)."""
    from pytorch_lightning import Callback

    return _callback_class(Callback)


__all__ = ["PrecisionAdvisor", "PrecisionAdvisorError", "PrecisionAdvisorWarning", "for_pytorch_lightning"]
