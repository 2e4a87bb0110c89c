"""`prec-advisor explain CODE`: a rule's page, ruff style; also renders docs/rules.md.

The page is built from the catalogue's examples, so the docs, `explain` and
the tests all read the same ones: "Use instead" is the first invalid
example's `fixed` text (what --fix makes of it, checked by the tests), and
a fix title worded from the finding's values is the one the checker gives
that example.
"""
from __future__ import annotations

import argparse
import sys

from advisor.catalogue import Catalogue, Example, Rule, load_catalogue

FIX_SAFETY = {
    "none": "No automatic fix: the message says what to change.",
    "safe": "The fix is safe: it keeps behaviour (the new spelling runs what the old one did) "
            "and `--fix` applies it.",
    "recommended": "The fix applies the advisor's recommendation for the hardware target: `--fix` applies it "
                   "only when a target is known (`--gpu`, `target-gpu` in the config, or `--detect`).",
    "unsafe": "The fix is unsafe: it changes what runs (results can differ), so `--fix` applies it only "
              "with `--unsafe-fixes`; review the diff (`--diff --unsafe-fixes`).",
}
RUNTIME_NOTE = ("Reported during a real training run by the `PrecisionAdvisor` callback (docs/callback.md), "
                "not by `check`: the examples are training scripts, run as they are by the tests.")


def _count(number: int) -> str:
    return f"{number / 1e9:g}B" if number >= 1e9 else f"{number / 1e6:g}M"


def _example_block(example: Example) -> str:
    """The example's code, with the check it needs as a trailing comment: the CLI's `--gpu`, and
    for census rules the model `--trace` would measure."""
    options = example.options_dict
    needs = [f"--gpu {options['gpu']}"] if "gpu" in options else []
    if "params" in options:
        linear = options.get("linear_params", 0)
        trainable = options.get("trainable_params")
        needs.append(f"--trace of a model with {_count(options['params'])} parameters, "
                     f"{_count(linear) if linear else 'none'} in nn.Linear"
                     + (f", {_count(trainable)} trainable" if trainable is not None else ""))
    comment = f"  # with {'; '.join(needs)}" if needs else ""
    return f"```python\n{example.code.rstrip()}{comment}\n```"


def _fix_title(rule: Rule) -> str:
    """The fix title as the checker words it for the rule's examples ("" when none of them gets a fix)."""
    if rule.fix == "none" or "{" not in rule.fix_title:
        return rule.fix_title
    from advisor.checks.examples import check_example  # runs the checker: only for titles with values
    for example in rule.invalid:
        for finding in check_example(example).findings:
            if finding.code == rule.code and finding.fix is not None:
                return finding.fix.title
    return ""


def _use_instead(rule: Rule) -> Example:
    first = rule.invalid[0] if rule.invalid else None
    if first is not None and first.fixed is not None:
        return Example(first.fixed, first.options)
    return rule.valid[0]


def rule_page(rule: Rule, heading: str = "#") -> str:
    parts = [f"{heading} {rule.name} ({rule.code})", "",
             f"Severity: {rule.severity}. Fix: {rule.fix}.", "",
             *([RUNTIME_NOTE, ""] if rule.runtime else []),
             f"{heading}# What it does", rule.summary, "",
             f"{heading}# Why is this bad?", rule.rationale, ""]
    if rule.invalid:
        parts += [f"{heading}# Example", _example_block(rule.invalid[0]), ""]
    if rule.valid or rule.invalid and rule.invalid[0].fixed is not None:
        parts += ["Use instead:", _example_block(_use_instead(rule)), ""]
    title = _fix_title(rule)
    parts += [f"{heading}# Fix safety", FIX_SAFETY[rule.fix] + (f" ({title})" if title else ""), ""]
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
