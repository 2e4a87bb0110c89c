"""Show a validation report: terminal table, JSON, loss-curve plot, progress bar."""
from __future__ import annotations

import json
import math
import sys
from typing import TextIO


def to_json(report: dict) -> str:
    """The report as strict JSON: non-finite losses become null (their count is in "nan")."""
    clean = {**report, "candidates": [
        {**c, "losses": [x if x is not None and math.isfinite(x) else None for x in c["losses"] or []]}
        for c in report["candidates"]
    ]}
    return json.dumps(clean, indent=2, allow_nan=False)


def table(report: dict) -> str:
    """One row per candidate, the verdict's reason last; the winner and notes below."""
    hardware = report["hardware"]
    device = hardware["device"] + (f" {tuple(hardware['capability'])}" if hardware.get("capability") else "")
    lines = [f"validate {report['script']}: {report['model']} on {device} ({hardware['name']}), "
             f"{report['steps']} steps after {report['warmup']} warm-up, seed {report['seed']}"]
    header = ("precision", "result", "last loss", "drift", "nan", "skipped", "step ms", "samples/s", "peak mem",
              "reason")
    rows = [header] + [_row(c) for c in report["candidates"]]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)) + "  " + row[-1]
              for row in rows]
    notes: dict[str, list[str]] = {}
    for c in report["candidates"]:
        if c.get("note"):
            notes.setdefault(c["note"], []).append(c["precision"])
    lines += [f"note ({', '.join(names)}): {note}" for note, names in notes.items()]
    winner = report["winner"]
    lines.append(f"winner: {winner} (fastest that passes)" if winner else "winner: none (no candidate passed)")
    return "\n".join(lines)


def _row(c: dict) -> tuple:
    losses = c["losses"] or []
    result = "base" if c["reason"] == "baseline" else ("pass" if c["passed"] else "FAIL")
    if c.get("effective_precision") and c["effective_precision"] != c["precision"]:
        result += f" (ran {c['effective_precision']})"
    return (
        c["precision"], result,
        _loss(losses[-1]) if losses else "-",
        f"{c['deviation']:.2f}" if c.get("deviation") is not None and c["reason"] != "baseline" else "-",
        str(c["nan"]), str(c.get("skipped_steps") or 0),
        f"{c['step_time_s'] * 1e3:.2f}" if c.get("step_time_s") else "-",
        f"{c['throughput']:,.0f}" if c.get("throughput") else "-",
        _mib(c.get("peak_memory_bytes")),
        "" if c["reason"] == "baseline" else c["reason"],
    )


def _loss(value: float | None) -> str:
    """A loss for the table; None is how JSON carries a non-finite one."""
    return "nan" if value is None else f"{value:.4g}"


def _mib(value: int | None) -> str:
    return f"{value / 2**20:,.0f} MiB" if value else "-"


def plot(report: dict, path: str) -> None:
    """Draw every candidate's loss per step (non-finite steps left as gaps) into `path`."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(8, 4.5))
    for c in report["candidates"]:
        losses = [x if x is not None and math.isfinite(x) else math.nan for x in c["losses"] or []]
        status = "baseline" if c["reason"] == "baseline" else ("pass" if c["passed"] else "fail")
        axes.plot(range(1, len(losses) + 1), losses, label=f"{c['precision']} ({status})",
                  linestyle="-" if c["passed"] else "--")
    axes.axvline(report["warmup"] + 0.5, color="grey", linewidth=0.8, linestyle=":")
    if all(x > 0 for c in report["candidates"] for x in c["losses"] or [] if x is not None and math.isfinite(x)):
        axes.set_yscale("log")  # late, small differences stay visible
    axes.set(xlabel="step", ylabel="training loss", title=f"{report['model']}: loss per step by precision")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    pyplot.close(figure)


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
            self.stream.write(f"{end}{self.label}: {'done' if event['ok'] else 'crashed'}\n")
        elif "step" in event and self.tty:
            self._draw(event["step"], event["total"])
        self.stream.flush()

    def _draw(self, step: int, total: int) -> None:
        if self.tty:
            filled = int(30 * step / max(total, 1))
            self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] {step}/{total} steps")
