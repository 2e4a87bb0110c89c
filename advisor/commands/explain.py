"""`prec-advisor explain CODE`: a rule's page, ruff style; also renders docs/rules.md.

The page is built from the catalogue alone, so the docs, `explain` and the
tests all read the same examples.
"""
from __future__ import annotations

import argparse
import sys

from advisor.catalogue import Catalogue, Rule, load_catalogue

FIX_SAFETY = {
    "none": "No automatic fix: the message says what to change.",
    "safe": "The fix is safe: it keeps behaviour (Lightning already runs what the new spelling says) "
            "and `--fix` applies it.",
    "recommended": "The fix applies the advisor's recommendation for the hardware target: `--fix` applies it "
                   "only when a target is known (`--gpu`, `target-gpu` in the config, or `--detect`).",
    "unsafe": "The fix is unsafe: it changes what runs (it moves work to FP32), so `--fix` applies it only "
              "with `--unsafe-fixes`; review the diff (`--diff --unsafe-fixes`).",
}


def _example_block(example) -> str:
    options = "".join(f"  # with --{k} {v}" for k, v in example.options)
    return f"```python\n{example.code.rstrip()}{options}\n```"


def rule_page(rule: Rule, heading: str = "#") -> str:
    parts = [f"{heading} {rule.name} ({rule.code})", "",
             f"Severity: {rule.severity}. Fix: {rule.fix}.", "",
             f"{heading}# What it does", rule.summary, "",
             f"{heading}# Why is this bad?", rule.rationale, ""]
    if rule.invalid:
        parts += [f"{heading}# Example", _example_block(rule.invalid[0]), ""]
    if rule.valid:
        parts += ["Use instead:", _example_block(rule.valid[0]), ""]
    parts += [f"{heading}# Fix safety", FIX_SAFETY[rule.fix] + (f" ({rule.fix_title})" if rule.fix_title else ""), ""]
    if rule.patterns:
        targets = sorted({p.target for p in rule.patterns if not p.aten})
        parts += [f"{heading}# Matches", ", ".join(f"`{t}`" for t in targets), ""]
    if rule.references:
        parts += [f"{heading}# References", *[f"- <{link}>" for link in rule.references], ""]
    return "\n".join(parts)


def rules_markdown(catalogue: Catalogue) -> str:
    """docs/rules.md: an index table, then one section per rule."""
    generated = "Generated from `rules/*.toml` by `python -m advisor.commands.explain --markdown`; do not edit by hand."
    lines = ["# Rules", "", generated, "",
             "| Code | Name | Severity | Fix | What it does |", "|---|---|---|---|---|"]
    for rule in catalogue:
        summary = rule.summary.replace("|", "\\|")
        link = f"[{rule.code}](#{rule.code.lower()})"
        lines.append(f"| {link} | {rule.name} | {rule.severity} | {rule.fix} | {summary} |")
    lines.append("")
    for rule in catalogue:
        lines += [f'<a id="{rule.code.lower()}"></a>', "", rule_page(rule, "##"), ""]
    return "\n".join(lines).rstrip() + "\n"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("code", nargs="?", help="a rule code (PRC201) or name (scatter-accumulates-in-half)")
    parser.add_argument("--all", action="store_true", help="list every rule")


def run(args) -> int:
    catalogue = load_catalogue()
    if args.all or not args.code:
        for rule in catalogue:
            print(f"{rule.code}  {rule.name:<36} {rule.severity:<8} {rule.summary}")
        return 0
    key = args.code.strip()
    rule = catalogue.rules.get(key.upper()) or catalogue.by_name(key.lower())
    if rule is None:
        print(f"prec-advisor: error: unknown rule {args.code!r}; `prec-advisor explain --all` lists them",
              file=sys.stderr)
        return 2
    print(rule_page(rule))
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--markdown"]:
        sys.stdout.write(rules_markdown(load_catalogue()))
