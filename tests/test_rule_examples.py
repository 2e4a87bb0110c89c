"""Every rule's own valid and invalid examples, run through the public API."""
import pytest

from advisor.api import check_text
from advisor.catalogue import load_catalogue
from advisor.config import Config
from advisor.facts import ModelCensus
from advisor.hardware.table import lookup

CATALOGUE = load_catalogue()


def _cases(kind):
    for rule in CATALOGUE:
        for number, example in enumerate(getattr(rule, kind)):
            yield pytest.param(rule.code, example, id=f"{rule.code}-{kind}-{number}")


def _codes(example):
    """Findings of an example; its options name a target GPU and, for census rules, a model size."""
    options = example.options_dict
    target = lookup(options["gpu"]) if "gpu" in options else None
    census = None
    if "params" in options:
        census = ModelCensus("example", options["params"], options.get("trainable_params", options["params"]),
                             options.get("linear_params", 0))
    return [f.code for f in check_text(example.code, "example.py", Config(), target=target, census=census).findings]


@pytest.mark.parametrize("code, example", list(_cases("invalid")))
def test_invalid_example_is_flagged(code, example):
    assert code in _codes(example)


@pytest.mark.parametrize("code, example", list(_cases("valid")))
def test_valid_example_is_not_flagged(code, example):
    assert code not in _codes(example)


def test_every_rule_has_both_kinds_of_examples():
    for rule in CATALOGUE:
        assert rule.invalid, f"{rule.code} has no invalid example"
        assert rule.valid, f"{rule.code} has no valid example"
