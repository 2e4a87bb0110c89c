"""`--fix` on many generated programs: the output parses and a second `--fix` is a no-op.

Each program is a hypothesmith module followed by a Trainer/Fabric call whose
precision and layout are drawn too, so there is always something to fix.
"""
import tempfile
from pathlib import Path

import hypothesmith
import libcst as cst
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from fixing import run_fixer

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


def fix_twice(program: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "train.py"
        path.write_bytes(program.encode("utf-8"))
        run_fixer([path], unsafe=True)
        once = path.read_bytes()
        cst.parse_module(once.decode("utf-8"))
        second, _, _ = run_fixer([path], unsafe=True)
        assert path.read_bytes() == once and second.fixed == 0


PROGRAMS = st.builds(lambda code, call: code + ("\n" if code and not code.endswith("\n") else "") + call,
                     hypothesmith.from_grammar(), trainer_call())


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(PROGRAMS)
def test_fix_twice_is_stable(program):
    fix_twice(program)


@pytest.mark.slow
@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
@given(PROGRAMS)
def test_fix_twice_is_stable_long(program):
    fix_twice(program)
