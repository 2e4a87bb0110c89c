"""Command line: `prec-advisor check|explain|env|validate`.

Each subcommand lives in its own module exposing `add_arguments(parser)` and
`run(args) -> int`. Only the chosen subcommand's module is imported, so
`--version`, `--help` and each subcommand pay for nothing else (no libcst
before a file is checked, no torch outside the deep paths).
"""
from __future__ import annotations

import argparse
import importlib
import sys

from advisor import __version__

# subcommand -> (module, one-line help)
SUBCOMMANDS = {
    "check": ("advisor.commands.check", "check training scripts for precision problems"),
    "explain": ("advisor.commands.explain", "print a rule's documentation"),
    "env": ("advisor.commands.env", "show detected hardware and what each precision means on it"),
    "validate": ("advisor.validate.command", "train each candidate precision briefly and compare with fp32"),
}

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse that exits 2 with a one-line message, never a traceback."""

    def error(self, message):
        self.exit(EXIT_ERROR, f"prec-advisor: error: {message}\n")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only `command`'s module is imported to add its arguments (the top-level
    options take no values, so the first word not starting with `-` names the subcommand)."""
    parser = _Parser(prog="prec-advisor", description="Precision advisor for PyTorch Lightning training code.")
    parser.add_argument("--version", action="version", version=f"prec-advisor {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    subparsers.required = True
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        if name == command:
            module = importlib.import_module(module_name)
            module.add_arguments(sub)
            sub.set_defaults(_run=module.run)
    return parser


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((word for word in argv if not word.startswith("-")), None)
    args = build_parser(command).parse_args(argv)
    try:
        return args._run(args)
    except KeyboardInterrupt:
        print("prec-advisor: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_FINDINGS if args.command == "check" else EXIT_OK
