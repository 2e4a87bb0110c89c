"""`check` and `--fix` on generated programs: hypothesmith modules with Trainer calls and
FP32-op snippets spliced in between their statements.

Properties: `check` never crashes (no exception, no "internal error"); one fix pass
changes nothing outside the edits it applied; `--fix` output parses and a second
`--fix` is a no-op. test_fix_property.py covers Trainer calls appended at the end.
"""

import hypothesmith
import libcst as cst
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_fix_property import trainer_call

from advisor import api
from advisor.fix import fixer
from advisor.fix.edits import LineIndex

from fixing import fix_twice

pytestmark = pytest.mark.filterwarnings("ignore::SyntaxWarning")  # generated code like `1()`

OP_SNIPPETS = [
    "import torch\nimport lightning as L\n\n\nclass Net(L.LightningModule):\n"
    "    def forward(self, x, index):\n        return torch.scatter_add(x, 0, index, x)\n",
    "import torch\n\n\nclass Inv(torch.nn.Module):\n    def forward(self, x, i, v):\n"
    "        x.index_add_(0, i, v)\n        return torch.linalg.inv(x)\n",
    "import torch\n\n\nclass Masked(torch.nn.Module):\n    def forward(self, x, m):\n"
    "        return x.masked_fill(m, -1e9) / (x.sum() + 1e-8)\n",
    "import torch\nscaler = torch.cuda.amp.GradScaler()\nwith torch.cuda.amp.autocast():\n    pass\n",
]


def splice(code: str, snippets: list[str], positions: list[int]) -> str:
    """Insert each snippet between the module's top-level statements (appended if it does not parse)."""
    try:
        module = cst.parse_module(code)
    except Exception:  # noqa: BLE001 - hypothesmith emits some code libcst rejects; append then
        return code + ("\n" if code and not code.endswith("\n") else "") + "".join(snippets)
    body = list(module.body)
    for snippet, position in zip(snippets, positions, strict=False):
        at = position % (len(body) + 1)
        body[at:at] = cst.parse_module(snippet).body
    return module.with_changes(body=body).code


PROGRAMS = st.builds(splice, st.deferred(hypothesmith.from_grammar),  # built on first use, not at collection
                     st.lists(st.one_of(st.sampled_from(OP_SNIPPETS), trainer_call()), min_size=1, max_size=3),
                     st.lists(st.integers(0, 50), min_size=3, max_size=3))


def never_crashes(program: str) -> None:
    report = api.check_text(program, "train.py")
    assert not [f.message for f in report.findings if "internal error" in f.message]


def unchanged_outside(original: str, new: str, ranges: list) -> None:
    """Each stretch of `original` between the edited ranges is in `new`, in order, ends anchored."""
    gaps, position = [], 0
    for start, end in sorted(ranges):
        if start >= position:
            gaps.append(original[position:start])
        position = max(position, end)
    gaps.append(original[position:])
    if len(gaps) == 1:
        assert new == original
        return
    assert new.startswith(gaps[0]) and new.endswith(gaps[-1])
    cursor = len(gaps[0])
    for gap in gaps[1:-1]:
        cursor = new.index(gap, cursor) + len(gap)
    assert cursor <= len(new) - len(gaps[-1])


def one_pass_touches_only_its_edits(program: str) -> int:
    """One fix pass over every fixable finding; returns how many fixes it applied."""
    report = api.check_text(program, "train.py")
    if report.errors:
        return 0
    fixable = [f for f in report.findings if f.fix is not None and f.fix.edits]
    noqa = {facts.path: facts.noqa for facts in report.facts}.get("train.py", {})
    new, applied, _ = fixer.fix_text(program, fixable, noqa)
    index = LineIndex(program)
    unchanged_outside(program, new, [(index.offset(e.span.line, e.span.column),
                                      index.offset(e.span.end_line, e.span.end_column))
                                     for f in applied for e in f.fix.edits])
    if applied:
        cst.parse_module(new)
    return len(applied)


def all_properties(program: str) -> None:
    never_crashes(program)
    one_pass_touches_only_its_edits(program)
    fix_twice(program)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(PROGRAMS)
def test_generated_programs(program):
    all_properties(program)


@pytest.mark.slow
@settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
@given(PROGRAMS)
def test_generated_programs_long(program):
    all_properties(program)
