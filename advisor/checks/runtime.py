"""PRC5xx: what only the real run shows, judged by the `PrecisionAdvisor` callback.

Each rule is a function of one recorded training step (`StepRecord`): the
loss the user's `training_step` returned and, under a GradScaler, the scale
before and after the optimizer step. No torch here: the callback reads the
live values, these rules decide; messages come from rules/runtime.toml.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from advisor.checks import registry
from advisor.checks.registry import Hit, rule
from advisor.facts import Span

# At a scale of 1 or below the GradScaler no longer amplifies the gradients: a step skipped there
# overflowed fp16 on its own. Above it, skipping is how the scaler calibrates (it starts at 2**16
# and halves on each overflow), expected in the first steps.
UNAMPLIFIED_SCALE = 1.0


@dataclass(frozen=True)
class StepRecord:
    """One recorded training step, as the callback saw it.

    `path`/`line`: where the findings go (the first user line that made a
    non-finite value, else the `training_step` definition); `origin` names
    that op; `loss` is the loss as `training_step` returned it.
    """

    step: int  # 1-based
    precision: str
    path: str
    line: int
    loss: float | None = None
    origin: str | None = None
    scale_before: float | None = None
    scale_after: float | None = None

    @property
    def loss_finite(self) -> bool:
        return self.loss is None or math.isfinite(self.loss)

    @property
    def skipped(self) -> bool:
        """The GradScaler skipped the optimizer step: it lowers the scale exactly when it found inf/NaN."""
        return None not in (self.scale_before, self.scale_after) and self.scale_after < self.scale_before

    def hit(self, severity: str | None = None, **values) -> Hit:
        where = f": the first non-finite value came from {self.origin}" if self.origin else ""
        return Hit(Span(self.line, 1, self.line, 1), dict(values, step=self.step, precision=self.precision,
                                                          origin=where), severity=severity, source="run")


@rule("PRC501", "step")
def non_finite_loss(step: StepRecord) -> Iterator[Hit]:
    if not step.loss_finite:
        yield step.hit(loss=step.loss)


@rule("PRC502", "step")
def grad_scaler_skipped_step(step: StepRecord) -> Iterator[Hit]:
    if step.skipped and step.loss_finite:  # a non-finite loss (PRC501) is why the step was skipped
        calibrating = step.scale_before > UNAMPLIFIED_SCALE
        why = ("expected while the scaler calibrates in the first steps; a run that keeps skipping "
               "never trains" if calibrating else
               "the gradients overflow fp16 without any amplification: lowering the scale further "
               "makes the small ones underflow, so the run cannot train in fp16")
        yield step.hit("info" if calibrating else None, before=f"{step.scale_before:g}",
                       after=f"{step.scale_after:g}", why=why)


def step_findings(steps, catalogue, noqa: dict) -> list:
    """Findings of every recorded step; `noqa` maps a path to its `# noqa` lines."""
    return [finding for step in steps
            for finding in registry.judge("runtime", "step", step, catalogue, step.path, noqa.get(step.path))]
