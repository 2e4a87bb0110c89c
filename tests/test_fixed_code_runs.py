"""The FP32-region fix keeps what runs: the fixture's functions before and after the fix,
imported and executed on CPU (fixtures/fix/unsafe_accumulate.py -> .fixed.py, which
test_fix_fixtures checks byte for byte against the CLI's output)."""
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

FIXTURES = Path(__file__).parent / "fixtures" / "fix"
BEFORE, AFTER = FIXTURES / "unsafe_accumulate.py", FIXTURES / "unsafe_accumulate.fixed.py"


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


before, after = _load(BEFORE, "accumulate_before"), _load(AFTER, "accumulate_after")


def _inputs(dtype):
    """(function name, arguments) for every function of the fixture, in `dtype`."""
    generator = torch.Generator().manual_seed(0)
    rand = lambda *shape: torch.randn(*shape, generator=generator, dtype=torch.float64).to(dtype)  # noqa: E731
    index = torch.tensor([0, 2, 1, 0, 2, 2])
    matrix = rand(4, 4) + 4 * torch.eye(4, dtype=dtype)
    return [("index_sum", (rand(3, 5), index, rand(6, 5))), ("index_sum_method", (rand(3, 5), index, rand(6, 5))),
            ("scatter_unless", (rand(3, 5), index.view(-1, 1).expand(6, 5), rand(6, 5), False)),
            ("inverse", (matrix,)), ("norm", (matrix,)), ("qr", (matrix,)), ("mean_per_group", (rand(6, 5), index)),
            ("sparse_product", (matrix.to_sparse(), rand(4, 2)))]


def _same(a, b) -> bool:
    if isinstance(a, tuple):
        return all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a.dtype == b.dtype and torch.equal(a, b)


def test_the_cli_writes_the_fixed_fixture(tmp_path):
    target = tmp_path / BEFORE.name
    shutil.copyfile(BEFORE, target)
    done = subprocess.run([sys.executable, "-m", "advisor", "check", target.name, "--fix", "--unsafe-fixes"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert target.read_bytes() == AFTER.read_bytes()


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
def test_fp64_and_fp32_results_are_bit_identical(dtype):
    for name, args in _inputs(dtype):
        assert _same(getattr(before, name)(*args), getattr(after, name)(*args)), name


def test_complex_and_integer_inputs_keep_their_semantics():
    matrix = torch.randn(4, 4, dtype=torch.complex128) + 4 * torch.eye(4)
    assert _same(before.inverse(matrix), after.inverse(matrix))  # complex in, complex out
    assert _same(before.norm(matrix), after.norm(matrix))  # complex in, real out: never cast to complex
    out, index, src = torch.zeros(3, dtype=torch.long), torch.tensor([0, 2, 2]), torch.tensor([5, 7, 9])
    assert _same(before.index_sum(out, index, src), after.index_sum(out, index, src))
    values = torch.tensor([1, 2, 4]), torch.tensor([0, 0, 1])
    assert _same(before.mean_per_group(*values), after.mean_per_group(*values))  # integer mean: floor, as before


def test_a_bf16_accumulation_of_ten_thousand_ones_is_right_after_the_fix():
    ones, index = torch.ones(10_000, dtype=torch.bfloat16), torch.zeros(10_000, dtype=torch.long)
    zero = torch.zeros(1, dtype=torch.bfloat16)
    assert before.index_sum(zero, index, ones).item() == 256  # each bf16 add of 1 to 256 rounds back to 256
    for fixed in (after.index_sum(zero, index, ones), after.index_sum_method(zero, index, ones)):
        assert fixed.dtype == torch.bfloat16 and fixed.item() == torch.tensor(10_000.0).bfloat16().item()


def test_half_results_are_cast_back_to_the_half_dtype_they_had():
    for dtype in (torch.float16, torch.bfloat16):
        out, index, src = torch.zeros(2, 3, dtype=dtype), torch.tensor([0, 1, 1]), torch.ones(3, 3, dtype=dtype)
        assert after.index_sum(out, index, src).dtype == dtype
        assert after.qr(torch.eye(3, dtype=dtype))[0].dtype == torch.float32  # a tuple: kept fp32, the fix says so


def test_torchscript_still_compiles_and_scripted_code_gives_the_same_results():
    for name, args in _inputs(torch.float32):
        torch.jit.script(getattr(before, name))  # each of them scripted before the fix
        scripted = torch.jit.script(getattr(after, name))
        if name != "sparse_product":  # an autocast region scripts; running it needs a constant device_type
            assert _same(scripted(*args), getattr(after, name)(*args)), name


def test_torch_compile_gives_the_same_results():
    torch._dynamo.reset()
    for name, args in _inputs(torch.float32):
        compiled = torch.compile(getattr(after, name), backend="eager")
        assert _same(compiled(*args), getattr(before, name)(*args)), name


def test_cpu_autocast_is_really_off_inside_the_region():
    sparse, dense = (torch.eye(4) * 3).to_sparse(), torch.randn(4, 2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert before.sparse_product(sparse, dense).dtype == torch.bfloat16  # autocast ran it in bf16
        fixed = after.sparse_product(sparse, dense)
    assert _same(fixed, torch.sparse.mm(sparse, dense))  # fp32, as without autocast
