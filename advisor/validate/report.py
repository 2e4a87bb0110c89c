"""Show a validation report: terminal table, JSON, loss-curve plot, progress bar."""
from __future__ import annotations

import json
import math
import sys
from typing import TextIO


def to_json(report: dict) -> str:
    """The report as strict JSON: non-finite numbers become null (a loss's count is in "nan";
    a confidence interval from one window is unbounded)."""
    return json.dumps(_strict(report), indent=2, allow_nan=False)


def _strict(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _strict(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(item) for item in value]
    return value


def table(report: dict) -> str:
    """A header naming the run, one row per candidate (the verdict's reason last), then notes and the verdict."""
    lines = [f"validate {report['script']}: {report['model']} on {_device(report)}, {report['steps']} steps after "
             f"{report['warmup']} warm-up, seed {report['seed']}"]
    carried = ", ".join(f"{name}={value!r}" for name, value in report["trainer"].items()) or "defaults"
    matmul = report["matmul_precision"]
    lines.append(f"trainer: {carried}; fp32 matmul precision {matmul['value']!r} ({matmul['source']})")
    header = ("precision", "result", "ran", "last loss", "drift", "nan", "skipped", "step ms (95% CI)",
              "vs base (95% CI)", "samples/s", "peak mem", "reason")
    rows = [header] + [_row(c) for c in report["candidates"]]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)) + "  " + row[-1]
              for row in rows]
    notes: dict[str, list[str]] = {}
    for c in report["candidates"]:
        if c.get("note"):
            notes.setdefault(c["note"], []).append(c["precision"])
    lines += [f"note ({', '.join(names)}): {note}" for note, names in notes.items()]
    lines += [f"note: {note}" for note in report["trainer_notes"]]
    lines += [f"not carried: {item['argument']}={item['value']} ({item['reason']})"
              for item in report["trainer_not_carried"]]
    if report["noise"].get("repeat_error"):
        lines.append(f"note: the repeat baseline run failed ({report['noise']['repeat_error']}); "
                     "no run-to-run spread measured")
    lines.append(f"speed: {'representative' if report['speed_representative'] else 'NOT representative'} "
                 f"({report['speed_note']}); {_timing(report)}")
    focus = next(c for c in report["candidates"] if c["precision"] == report["recommended"])
    lines.append(f"recommended: {report['recommended']} {_result(focus)}")
    lines.append(f"verdict: {report['verdict']}")
    return "\n".join(lines)


def _timing(report: dict) -> str:
    """How the speed was measured: clock, run order and the run-to-run spread the intervals use."""
    timing, spread = report.get("timing") or {}, report["noise"]["run_to_run_speed"]
    clock = timing.get("clock") or "wall clock"
    threads = f", {timing['threads']} thread{'s' * (timing['threads'] != 1)}" if timing.get("threads") else ""
    measured = f"run-to-run spread {spread:.0%} (df {timing.get('df', 0)})" if spread is not None else \
        "no run-to-run spread (nothing ran twice): no winner"
    band = f"; tie band {timing['tie_band']:.0%}" if timing.get("tie_band") else ""
    return f"timed by {clock}{threads}; {measured}{band}"


def _device(report: dict) -> str:
    hardware = report["hardware"]
    device = hardware["device"] + (f" {tuple(hardware['capability'])}" if hardware.get("capability") else "")
    return f"{device} ({hardware['name']})"


def _result(c: dict) -> str:
    return {"baseline": "base", "pass": "pass", "fail": "FAIL"}.get(c["status"], c["status"])


def _row(c: dict) -> tuple:
    losses = c["losses"] or []
    baseline = c["status"] == "baseline"
    timing = "-"
    if c.get("step_time_s"):
        timing = f"{c['step_time_s'] * 1e3:.2f}" + (f" ±{c['ci_s'] * 1e3:.2f}" if math.isfinite(c["ci_s"]) else "")
    return (
        c["precision"], _result(c), c.get("effective_precision") or "-",
        _loss(losses[-1]) if losses else "-",
        f"{c['deviation']:.2f}" if c.get("deviation") is not None and not baseline else "-",
        str(c["nan"]), str(c.get("skipped_steps") or 0), timing, _ratio(c.get("speed_ratio")),
        f"{c['throughput']:,.0f}" if c.get("throughput") else "-",
        _mib(c.get("peak_memory_bytes")),
        "" if baseline else c["reason"],
    )


def _ratio(value: dict | None) -> str:
    """A step-time ratio to the baseline with its interval, e.g. `1.31x [0.89-1.94]`."""
    if not value:
        return "-"
    bounds = f" [{value['low']:.2f}-{value['high']:.2f}]" if value.get("low") is not None else ""
    return f"{value['ratio']:.2f}x{bounds}"


def _loss(value: float | None) -> str:
    """A loss for the table; None is how JSON carries a non-finite one."""
    return "nan" if value is None else f"{value:.4g}"


def _mib(value: int | None) -> str:
    return f"{value / 2**20:,.0f} MiB" if value else "-"


def plot(report: dict, path: str) -> None:
    """Save the loss-curve figure into `path` (PNG, or any format matplotlib knows by the suffix)."""
    from matplotlib import pyplot

    drawn = figure(report)
    drawn.savefig(path)
    pyplot.close(drawn)


def figure(report: dict):
    """Every candidate's loss per step (non-finite steps left as gaps), as a matplotlib Figure.

    The baseline is drawn last and thickest, so no candidate hides it; each label
    names the precision Lightning actually ran, the title the device.
    """
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot

    drawn, axes = pyplot.subplots(figsize=(8, 4.5))
    for c in sorted(report["candidates"], key=lambda c: c["status"] == "baseline"):
        losses = [x if x is not None and math.isfinite(x) else math.nan for x in c["losses"] or []]
        ran = c.get("effective_precision")
        label = c["precision"] + (f" (ran {ran})" if ran and ran != c["precision"] else "") + f": {_result(c)}"
        style = {"color": "black", "linewidth": 2.5, "zorder": 10} if c["status"] == "baseline" else \
            {"linewidth": 1.2, "linestyle": "-" if c["passed"] else "--"}
        axes.plot(range(1, len(losses) + 1), losses, label=label, **style)
    axes.axvline(report["warmup"] + 0.5, color="grey", linewidth=0.8, linestyle=":")
    if all(x > 0 for c in report["candidates"] for x in c["losses"] or [] if x is not None and math.isfinite(x)):
        axes.set_yscale("log")  # late, small differences stay visible
    target = f", advice for {report['target']}" if report.get("target") else ""
    axes.set(xlabel="optimizer step", ylabel="training loss",
             title=f"{report['model']} on {_device(report)}{target}: loss per step")
    axes.legend()
    drawn.tight_layout()
    return drawn


class Progress:
    """Progress on stderr: a redrawn bar on a terminal, one line per finished run otherwise."""

    def __init__(self, stream: TextIO = sys.stderr):
        self.stream = stream
        self.tty = stream.isatty()
        self.label = ""

    def __call__(self, event: dict) -> None:
        if event.get("event") == "start":
            count = event["count"] or "?"
            self.label = f"[{event['index']}/{count}] {event['candidate']}"
            self._draw(0, 1)
        elif event.get("event") == "done":
            end = "\r\x1b[K" if self.tty else ""
            self.stream.write(f"{end}{self.label}: {'done' if event['ok'] else 'failed'}\n")
        elif "step" in event and self.tty:
            self._draw(event["step"], event["total"])
        self.stream.flush()

    def _draw(self, step: int, total: int) -> None:
        if self.tty:
            filled = int(30 * step / max(total, 1))
            self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] {step}/{total} steps")
