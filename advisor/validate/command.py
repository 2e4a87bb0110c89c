"""`prec-advisor validate`: prove a recommendation with short real training runs.

Importing this module imports no torch/Lightning: the children do.
Exit codes: 0 the recommended precision (the first of --candidates, else the
advisor's pick) passed, 1 it did not, 2 bad input or the baseline could not run.
"""
from __future__ import annotations

import argparse
import importlib.util
import sys

from advisor.validate.session import DEFAULT_ROUNDS
from advisor.validate.speed import TIE_BAND

EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("script", help="training script that defines the LightningModule")
    parser.add_argument("--model", metavar="SPEC",
                        help="the model to run: Name, path.py:Name or module:Name (a class or zero-arg factory)")
    parser.add_argument("--datamodule", metavar="SPEC", help="a LightningDataModule to train on (module:Name)")
    parser.add_argument("--synthetic", action="store_true",
                        help="train on random batches shaped like example_input_array, with random targets")
    parser.add_argument("--candidates", type=_candidates, metavar="A,B,C",
                        help="exactly these precisions / bitsandbytes modes (default: the hardware's)")
    parser.add_argument("--steps", type=_positive(int), default=50, help="measured steps per candidate (50)")
    parser.add_argument("--warmup", type=_positive(int, zero=True), default=5,
                        help="steps before timing starts (5)")
    parser.add_argument("--seed", type=int, default=0, help="seed shared by every candidate (0)")
    parser.add_argument("--tolerance", type=_positive(float), default=3.0,
                        help="allowed windowed loss gap from the baseline, in units of its noise (3)")
    parser.add_argument("--rtol", type=_positive(float, zero=True), default=0.02,
                        help="plus this share of the baseline's loss (0.02)")
    parser.add_argument("--gpu", metavar="NAME",
                        help="the GPU the advice is for (e.g. a100, t4): its picks are tried, and timings on "
                             "another device are marked not representative")
    parser.add_argument("--rounds", type=_positive(int), default=DEFAULT_ROUNDS,
                        help=f"runs of each passing precision, interleaved, for the speed interval ({DEFAULT_ROUNDS})")
    parser.add_argument("--min-speedup", type=_positive(float, zero=True), default=TIE_BAND, metavar="SHARE",
                        help=f"how much faster, beyond its interval, a precision must be to win ({TIE_BAND:g}: "
                             "a precision change for less is not worth its numeric risk)")
    parser.add_argument("--timeout", type=_positive(float), default=900.0, help="seconds per candidate run (900)")
    parser.add_argument("--memory-limit", type=_positive(int), metavar="MIB",
                        help="cap each run's memory: CUDA allocator on a GPU, address space on a CPU (Linux)")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--plot", metavar="FILE.png", help="draw every candidate's loss curve (needs matplotlib)")


def run(args: argparse.Namespace) -> int:
    from advisor.validate import report
    from advisor.validate.session import ValidationError, validate_candidates

    if args.plot and importlib.util.find_spec("matplotlib") is None:
        return _error("--plot needs matplotlib: pip install 'prec-advisor[plot]'")
    try:
        result = validate_candidates(
            args.script, args.candidates, model=args.model, datamodule=args.datamodule, synthetic=args.synthetic,
            steps=args.steps, warmup=args.warmup, seed=args.seed, tolerance=args.tolerance, rtol=args.rtol,
            rounds=args.rounds, min_speedup=args.min_speedup,
            timeout=args.timeout, memory_limit_bytes=args.memory_limit * 2**20 if args.memory_limit else None,
            target=args.gpu, on_progress=report.Progress(),
        )
    except ValidationError as exc:
        return _error(str(exc))
    print(report.to_json(result) if args.format == "json" else report.table(result))
    if args.plot:
        report.plot(result, args.plot)
    return EXIT_OK if result["recommended_passed"] else EXIT_FAILED


def _error(message: str) -> int:
    print(f"prec-advisor: error: {message}", file=sys.stderr)
    return EXIT_ERROR


def _candidates(text: str) -> list[str]:
    from advisor.validate.candidates import parse_candidates
    try:
        return parse_candidates(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive(kind, zero: bool = False):
    def convert(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value < 0 or (value == 0 and not zero):
            raise argparse.ArgumentTypeError(f"must be {'>= 0' if zero else '> 0'}: {text!r}")
        return value
    convert.__name__ = kind.__name__
    return convert
