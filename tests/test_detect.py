"""Detection: each parser on real captured output, and the real probe on this machine."""
import subprocess
import sys
from pathlib import Path

import pytest

from advisor.hardware import detect

FIXTURES = Path(__file__).parent / "fixtures" / "detect"


def read(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def test_nvidia_smi_name_and_memory_only():
    devices = detect.parse_nvidia_smi_csv(read("nvidia-smi-h100x8.csv"))
    assert [d.index for d in devices] == list(range(8))
    assert {d.name for d in devices} == {"NVIDIA H100 80GB HBM3"}
    assert devices[0].memory_gib == pytest.approx(81559 / 1024, abs=0.01)
    assert devices[0].compute_capability is None
    gpu = devices[0].gpu()
    assert gpu.key == "h100-sxm" and gpu.compute_capability == (9, 0) and gpu.memory_gib == devices[0].memory_gib


def test_nvidia_smi_mixed_a100_models():
    devices = detect.parse_nvidia_smi_csv(read("nvidia-smi-a100x7.csv"))
    assert len(devices) == 7 and devices[4].name == "NVIDIA A100-SXM4-80GB"
    assert {d.gpu().key for d in devices} == {"a100-80gb"}
    assert all(d.compute_capability == (8, 0) for d in devices)


def test_nvidia_smi_colab_t4_with_trailing_space():
    (device,) = detect.parse_nvidia_smi_csv(read("nvidia-smi-t4-colab.csv"))
    assert device.compute_capability == (7, 5) and device.memory_gib == 15.0
    assert device.gpu().key == "t4"


@pytest.mark.parametrize("name,cc,bf16,fp8", [
    ("nvidia-smi-gtx1660super.csv", (7, 5), False, False),
    ("nvidia-smi-rtx4060-laptop.csv", (8, 9), True, True),
])
def test_nvidia_smi_gpu_missing_from_the_table(name, cc, bf16, fp8):
    (device,) = detect.parse_nvidia_smi_csv(read(name))
    assert device.compute_capability == cc and device.driver
    gpu = device.gpu()
    assert (gpu.bf16_native, gpu.fp8) == (bf16, fp8)
    assert "inferred" in gpu.note


def test_nvidia_smi_empty_output():
    assert detect.parse_nvidia_smi_csv("") == []


def test_rocm_smi_rocm5_two_gcds():
    devices = detect.parse_rocm_smi_json(read("rocm-smi-mi250-rocm5.json"))
    assert [d.index for d in devices] == [0, 1]
    assert devices[0].name == "AMD INSTINCT MI250 (MCM) OAM AC MBA" and devices[0].driver == "6.2.4"
    gpu = devices[0].gpu()
    assert gpu.key == "mi250x" and gpu.kind == "rocm" and gpu.memory_gib == 64  # -a has no VRAM total


def test_rocm_smi_rocm6_keys():
    (device,) = detect.parse_rocm_smi_json(read("rocm-smi-mi250-rocm6.json"))
    assert device.name.startswith("AMD INSTINCT MI250") and device.arch == "gfx9010"
    assert device.gpu().bf16_native


def test_cpuinfo_and_meminfo():
    cpu = detect.parse_cpuinfo(read("cpuinfo-epyc-2core.txt"), read("meminfo-24gib.txt"))
    assert cpu.cores == 2 and cpu.model.startswith("AMD EPYC")
    assert cpu.bf16_flags == ["avx512_bf16"] and cpu.gpu().key == "cpu-bf16"
    assert cpu.memory_gib == pytest.approx(23.54, abs=0.01)
    without = detect.CpuInfo(flags=cpu.flags - {"avx512_bf16"})
    assert without.gpu().key == "cpu"


def test_macos_sysctl():
    cpu, devices = detect.macos_devices(detect.parse_sysctl(read("sysctl-m1pro.txt")))
    assert cpu.model == "Apple M1 Pro"
    (mps,) = devices
    assert mps.kind == "mps" and mps.gpu().key == "mps"


def test_detection_on_this_machine_says_no_gpu():
    """No GPU, no nvidia-smi, NVML library missing: every probe says why, nothing raises."""
    machine = detect.detect()
    if machine.devices:
        pytest.skip("this machine has an accelerator")
    outcomes = dict(machine.probes)
    assert outcomes["torch"].startswith("not asked")
    assert set(outcomes) >= {"nvidia-smi", "nvml", "rocm-smi"}
    assert machine.target().kind == "cpu"
    assert machine.cpu.cores >= 1 and machine.cpu.memory_gib


def test_detection_imports_no_torch():
    code = "import sys; from advisor.hardware import detect; detect.detect(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).parent.parent)
    assert out.stdout.strip() == "False"


def test_detection_through_torch_when_asked():
    pytest.importorskip("torch")
    machine = detect.detect(use_torch=True)
    assert machine.probes[0][0] == "torch"
    if not machine.devices:
        assert "no CUDA" in machine.probes[0][1]
