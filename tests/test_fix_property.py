"""`--fix` on many generated programs: the output parses and a second `--fix` is a no-op.

Each program is a hypothesmith module followed by a Trainer/Fabric call whose
precision and layout are drawn too, so there is always something to fix.
"""
import hypothesmith
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from fixing import fix_twice

VALUES = ["16", "32", "64", "'16'", "'bf16'", "'fp16'", "'bf16_mixed'", "'mixed'", "\"16-mixed\"", "p",
          "16 if debug else 'bf16'"]
EXTRAS = ["max_epochs=1", "amp_backend='native'", "amp_level='O2'", "devices=2", "accelerator='cpu'"]


@st.composite
def trainer_call(draw):
    head = draw(st.sampled_from(["import lightning as L\nL.Trainer", "from lightning.pytorch import Trainer as T\nT",
                                 "from lightning.fabric import Fabric\nFabric"]))
    arguments = [f"precision={draw(st.sampled_from(VALUES))}"] + draw(st.lists(st.sampled_from(EXTRAS), unique=True))
    arguments = draw(st.permutations(arguments))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    if draw(st.booleans()):
        body = "(\n" + "".join(f"    {a},  # c{i}\n" for i, a in enumerate(arguments)) + ")"
    else:
        body = "(" + ", ".join(arguments) + ")"
    return (head + body + "\n").replace("\n", newline)


def _compiles(program: str) -> bool:
    try:
        compile(program, "train.py", "exec")
    except (SyntaxError, ValueError):
        return False
    return True


def fix_twice_cleanly(program: str) -> None:
    # appending the call can break a valid module: a trailing `\` continues into the call's first line
    assume(_compiles(program))
    assert not fix_twice(program).report.errors, "a generated program could not be checked"


PROGRAMS = st.builds(lambda code, call: code + ("\n" if code and not code.endswith("\n") else "") + call,
                     st.deferred(hypothesmith.from_grammar), trainer_call())


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(PROGRAMS)
def test_fix_twice_is_stable(program):
    fix_twice_cleanly(program)


@pytest.mark.slow
@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
@given(PROGRAMS)
def test_fix_twice_is_stable_long(program):
    fix_twice_cleanly(program)
