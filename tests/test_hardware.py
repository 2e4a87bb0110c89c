"""The hardware table and the names that pick its rows."""
from pathlib import Path

import pytest

from advisor.hardware import table as hardware
from advisor.hardware.table import TFLOPS_KEYS, UnknownGpu, lookup, table

ISSUE_ALIASES = {
    "v100": "v100-16gb", "v100-32gb": "v100-32gb", "t4": "t4", "rtx2080ti": "rtx2080ti",
    "a100": "a100-40gb", "a100-80gb": "a100-80gb", "a10": "a10", "a10g": "a10", "rtx3090": "rtx3090",
    "rtx4090": "rtx4090", "l4": "l4", "l40s": "l40s", "h100": "h100-sxm", "h100-pcie": "h100-pcie",
    "h200": "h200", "b200": "b200", "gb200": "gb200", "rtx5090": "rtx5090", "mi250x": "mi250x",
    "mi300x": "mi300x", "mps": "mps", "cpu": "cpu",
}
VENDOR_NAMES = {
    "NVIDIA H100 80GB HBM3": "h100-sxm",
    "NVIDIA H100 PCIe": "h100-pcie",
    "NVIDIA A100-SXM4-80GB": "a100-80gb",
    "NVIDIA A100 80GB PCIe": "a100-80gb",
    "NVIDIA A100-SXM4-40GB": "a100-40gb",
    "Tesla T4": "t4",
    "Tesla V100-SXM2-16GB": "v100-16gb",
    "Tesla V100-PCIE-32GB": "v100-32gb",
    "NVIDIA A10G": "a10",
    "NVIDIA L4": "l4",
    "NVIDIA L40S": "l40s",
    "NVIDIA GeForce RTX 4090": "rtx4090",
    "NVIDIA GeForce RTX 2080 Ti": "rtx2080ti",
    "NVIDIA H200": "h200",
    "AMD INSTINCT MI250 (MCM) OAM AC MBA": "mi250x",
    "AMD Instinct MI300X OAM": "mi300x",
}


def test_every_row_is_complete_and_cites_a_source():
    for gpu in table():
        assert gpu.kind in hardware.KINDS
        assert gpu.source.startswith("https://"), gpu.key
        assert set(gpu.tflops) <= set(TFLOPS_KEYS), gpu.key
        assert gpu.aliases, gpu.key
        if gpu.kind in ("cuda", "rocm"):
            assert gpu.memory_gib and gpu.tflops.get("fp32") and gpu.tflops.get("fp16"), gpu.key


@pytest.mark.parametrize("gpu", [g for g in table() if g.kind == "cuda"], ids=lambda g: g.key)
def test_cuda_features_follow_the_compute_capability(gpu):
    cc = gpu.compute_capability
    assert gpu.bf16_native == (cc >= (8, 0))
    assert gpu.fp8 == (cc >= (8, 9))
    assert gpu.bnb_fast_int8 == (cc >= (7, 5))
    assert ("bf16" in gpu.tflops) == gpu.bf16_native
    assert ("fp8" in gpu.tflops) == gpu.fp8


def test_aliases_are_unique():
    names = [alias for gpu in table() for alias in {gpu.key, *gpu.aliases}]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("alias,key", sorted(ISSUE_ALIASES.items()))
def test_issue_aliases(alias, key):
    assert lookup(alias).key == key
    assert lookup(alias.upper()).key == key


@pytest.mark.parametrize("name,key", sorted(VENDOR_NAMES.items()))
def test_vendor_names(name, key):
    assert lookup(name).key == key


@pytest.mark.parametrize("spelling", ["A100 80GB", "a100_80gb", "RTX 4090", "H100-PCIe", "Rtx3090"])
def test_spellings_ignore_case_and_separators(spelling):
    lookup(spelling)


def test_unknown_name_lists_the_closest():
    with pytest.raises(UnknownGpu) as error:
        lookup("a1000")
    assert "a100" in str(error.value)
    with pytest.raises(UnknownGpu, match="h200"):
        lookup("h300")
    with pytest.raises(UnknownGpu):
        lookup("")


def test_weakest_takes_lowest_capability_and_smallest_memory():
    assert hardware.weakest([lookup("a100-80gb"), lookup("v100")]).key == "v100-16gb"
    mixed = hardware.weakest([lookup("v100-32gb"), lookup("a10")])
    assert (mixed.key, mixed.memory_gib) == ("v100-32gb", 24)
    assert hardware.weakest([lookup("h100"), lookup("a100")]).key == "a100-40gb"
    with pytest.raises(ValueError):
        hardware.weakest([])


def test_unlisted_gpu_from_capability():
    gpu = hardware.from_capability("NVIDIA GeForce RTX 4060 Laptop GPU", (8, 9), 8.0)
    assert gpu.bf16_native and gpu.fp8 and gpu.bnb_fast_int8 and gpu.kind == "cuda"
    old = hardware.from_capability("Tesla P100", (6, 0), 16)
    assert not (old.bf16_native or old.fp8 or old.bnb_fast_int8)


def test_cpu_rows():
    assert hardware.cpu(True, "Xeon", 64).bf16_native
    assert not hardware.cpu(False).bf16_native
    assert hardware.cpu(False, "", 8).memory_gib == 8


def test_docs_list_every_row():
    doc = (Path(__file__).parent.parent / "docs" / "hardware.md").read_text(encoding="utf-8")
    for gpu in table():
        assert f"`{gpu.key}`" in doc and gpu.source in doc, gpu.key
