"""Hardware detection: read what this machine has, without importing torch unless asked.

Each source has a pure parser (tested on captured output) and a probe that
runs it and records what happened, so `env` can say why nothing was found.
The decision itself never happens here: see `advisor.hardware.recommend`.
"""
from __future__ import annotations

import csv
import io
import json
import os
import platform
import re
import shutil
import subprocess
from dataclasses import dataclass, field, replace

from advisor.hardware import table as hardware
from advisor.hardware.table import Gpu

NVIDIA_SMI_FIELDS = ("index", "name", "memory.total", "compute_cap", "driver_version")
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
ROCM_NAME_KEYS = ("Card Series", "Card series", "Device Name", "Card model", "Card Model")
TIMEOUT_S = 10
MIB_PER_GIB = 1024


@dataclass(frozen=True)
class DetectedDevice:
    """One accelerator as a source reported it."""

    index: int
    name: str
    source: str  # nvidia-smi | nvml | rocm-smi | torch | sysctl
    memory_gib: float | None = None
    compute_capability: tuple | None = None
    arch: str = ""
    driver: str = ""
    kind: str = "cuda"

    def gpu(self) -> Gpu:
        """The table row it matches, with the measured memory and capability."""
        row = hardware.match_vendor_name(self.name)
        if row is None and self.kind == "mps":
            row = hardware.lookup("mps")
        if row is None and self.kind == "cuda" and self.compute_capability:
            return hardware.from_capability(self.name, self.compute_capability, self.memory_gib)
        if row is None:
            row = Gpu(key=self.kind, name=self.name, vendor="amd" if self.kind == "rocm" else "unknown",
                      kind=self.kind, bf16_native=self.kind == "rocm", bnb_fast_int8=self.kind == "rocm",
                      note="not in the hardware table")
        return replace(
            row,
            name=self.name,
            memory_gib=self.memory_gib if self.memory_gib is not None else row.memory_gib,
            compute_capability=self.compute_capability or row.compute_capability,
            arch=self.arch or row.arch,
        )

    def to_json(self) -> dict:
        row = hardware.match_vendor_name(self.name)
        return {
            "index": self.index,
            "name": self.name,
            "source": self.source,
            "kind": self.kind,
            "memory_gib": self.memory_gib,
            "compute_capability": "{}.{}".format(*self.compute_capability) if self.compute_capability else None,
            "arch": self.arch or None,
            "driver": self.driver or None,
            "table_entry": row.key if row else None,
        }


@dataclass(frozen=True)
class CpuInfo:
    model: str = ""
    cores: int = 0
    memory_gib: float | None = None
    flags: frozenset = frozenset()

    @property
    def bf16_flags(self) -> list:
        return [flag for flag in BF16_CPU_FLAGS if flag in self.flags]

    @property
    def bf16_native(self) -> bool:
        return bool(self.bf16_flags)

    def gpu(self) -> Gpu:
        return hardware.cpu(self.bf16_native, self.model, self.memory_gib)

    def to_json(self) -> dict:
        return {
            "model": self.model or None,
            "cores": self.cores,
            "memory_gib": self.memory_gib,
            "bf16_native": self.bf16_native,
            "bf16_flags": self.bf16_flags,
        }


@dataclass
class Machine:
    """What detection found, and what each source said (found, absent, failed)."""

    cpu: CpuInfo
    devices: list = field(default_factory=list)
    probes: list = field(default_factory=list)  # (source, outcome) in the order tried
    system: str = ""

    @property
    def gpus(self) -> list:
        return [device.gpu() for device in self.devices]

    def target(self) -> Gpu:
        """The device to advise for: the weakest accelerator, else the CPU."""
        return hardware.weakest(self.gpus) if self.devices else self.cpu.gpu()

    def to_json(self) -> dict:
        return {
            "system": self.system,
            "cpu": self.cpu.to_json(),
            "gpus": [device.to_json() for device in self.devices],
            "probes": [{"source": source, "outcome": outcome} for source, outcome in self.probes],
        }


# ---- parsers (pure) ---------------------------------------------------------

def _number(text: str) -> float | None:
    found = re.search(r"[-+]?\d+(\.\d+)?", text or "")
    return float(found.group(0)) if found else None


def _capability(text: str) -> tuple | None:
    found = re.fullmatch(r"\s*(\d+)\.(\d+)\s*", text or "")
    return (int(found.group(1)), int(found.group(2))) if found else None


def parse_nvidia_smi_csv(text: str, fields=NVIDIA_SMI_FIELDS) -> list:
    """Rows of `nvidia-smi --query-gpu=... --format=csv[,noheader][,nounits]`.

    A header line ("name, memory.total [MiB], ...") names the columns;
    without one, `fields` does. Memory is MiB with or without the unit.
    """
    rows = [row for row in csv.reader(io.StringIO(text), skipinitialspace=True) if any(c.strip() for c in row)]
    if rows and any(cell.strip().startswith("name") for cell in rows[0]):
        fields = [re.sub(r"\s*\[.*\]$", "", cell.strip()) for cell in rows[0]]
        rows = rows[1:]
    devices = []
    for position, row in enumerate(rows):
        values = dict(zip(fields, (cell.strip() for cell in row), strict=False))
        if not values.get("name"):
            continue
        memory = _number(values.get("memory.total", ""))
        index = _number(values.get("index", ""))
        devices.append(DetectedDevice(
            index=int(index) if index is not None else position,
            name=values["name"],
            source="nvidia-smi",
            memory_gib=round(memory / MIB_PER_GIB, 2) if memory is not None else None,
            compute_capability=_capability(values.get("compute_cap", "")),
            driver=values.get("driver_version", ""),
        ))
    return devices


def parse_rocm_smi_json(text: str) -> list:
    """Cards of `rocm-smi --showproductname --showmeminfo vram --json` (ROCm 5 and 6 keys)."""
    data = json.loads(text)
    driver = str(data.get("system", {}).get("Driver version", ""))
    devices = []
    cards = sorted((key for key in data if key.startswith("card")), key=lambda k: int(_number(k) or 0))
    for key in cards:
        card = data[key]
        name = next((card[k] for k in ROCM_NAME_KEYS if card.get(k)), "AMD GPU")
        memory = card.get("VRAM Total Memory (B)")
        devices.append(DetectedDevice(
            index=int(_number(key) or 0),
            name=name,
            source="rocm-smi",
            memory_gib=round(int(memory) / 2**30, 2) if memory else None,
            arch=card.get("GFX Version", ""),
            driver=driver,
            kind="rocm",
        ))
    return devices


def parse_cpuinfo(cpuinfo: str, meminfo: str = "") -> CpuInfo:
    """Model, logical cores and flags from /proc/cpuinfo; total memory from /proc/meminfo."""
    model, flags, cores = "", frozenset(), 0
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key == "processor":
            cores += 1
        elif key == "model name" and not model:
            model = value
        elif key in ("flags", "Features") and not flags:
            flags = frozenset(value.split())
    memory = re.search(r"^MemTotal:\s+(\d+)\s*kB", meminfo, re.MULTILINE)
    return CpuInfo(model=model, cores=cores, flags=flags,
                   memory_gib=round(int(memory.group(1)) / 2**20, 2) if memory else None)


def parse_sysctl(text: str) -> dict:
    """`sysctl hw.memsize machdep.cpu.brand_string ...` lines into a dict."""
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            values[key.strip()] = value.strip()
    return values


def macos_devices(sysctl: dict) -> tuple:
    """The CPU and, on Apple silicon, the MPS device sharing its memory."""
    memory = round(int(sysctl["hw.memsize"]) / 2**30, 2) if sysctl.get("hw.memsize", "").isdigit() else None
    model = sysctl.get("machdep.cpu.brand_string", "")
    flags = frozenset({"amx_bf16"} if sysctl.get("hw.optional.arm.FEAT_BF16") == "1" else ())
    cpu = CpuInfo(model=model, cores=int(sysctl.get("hw.ncpu", "0") or 0), memory_gib=memory, flags=flags)
    devices = []
    if model.startswith("Apple"):
        devices.append(DetectedDevice(0, f"{model} GPU (MPS)", "sysctl", memory_gib=memory, kind="mps"))
    return cpu, devices


# ---- probes (read the machine) ----------------------------------------------

def _run(command: list) -> tuple:
    """(returncode, output) of a command, or (None, why) when it cannot run."""
    if shutil.which(command[0]) is None:
        return None, "not found on PATH"
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"failed: {exc}"
    return done.returncode, done.stdout if done.returncode == 0 else (done.stdout + done.stderr).strip()


def probe_nvidia_smi() -> tuple:
    fields = list(NVIDIA_SMI_FIELDS)
    code, output = _run(["nvidia-smi", f"--query-gpu={','.join(fields)}", "--format=csv"])
    if code not in (0, None) and "compute_cap" in output:  # drivers older than 510 lack the field
        fields.remove("compute_cap")
        code, output = _run(["nvidia-smi", f"--query-gpu={','.join(fields)}", "--format=csv"])
    if code != 0:
        return [], output if code is None else f"exit {code}: {output.splitlines()[0] if output else ''}"
    return parse_nvidia_smi_csv(output), "ok"


def probe_nvml() -> tuple:
    """NVIDIA devices through NVML (nvidia-ml-py), when the package and the driver library exist."""
    try:
        import pynvml
    except ImportError:
        return [], "nvidia-ml-py not installed"
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        return [], str(exc)
    try:
        driver = pynvml.nvmlSystemGetDriverVersion()
        devices = []
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            name = pynvml.nvmlDeviceGetName(handle)
            devices.append(DetectedDevice(
                index=index,
                name=name.decode() if isinstance(name, bytes) else name,
                source="nvml",
                memory_gib=round(pynvml.nvmlDeviceGetMemoryInfo(handle).total / 2**30, 2),
                compute_capability=tuple(pynvml.nvmlDeviceGetCudaComputeCapability(handle)),
                driver=driver.decode() if isinstance(driver, bytes) else driver,
            ))
        return devices, "ok"
    except pynvml.NVMLError as exc:
        return [], str(exc)
    finally:
        pynvml.nvmlShutdown()


def probe_rocm_smi() -> tuple:
    code, output = _run(["rocm-smi", "--showproductname", "--showmeminfo", "vram", "--json"])
    if code != 0:
        return [], output if code is None else f"exit {code}"
    try:
        return parse_rocm_smi_json(output), "ok"
    except (ValueError, AttributeError) as exc:
        return [], f"unreadable output: {exc}"


def probe_torch() -> tuple:
    """Devices as torch sees them (respects CUDA_VISIBLE_DEVICES); imports torch."""
    try:
        import torch
    except ImportError:
        return [], "torch not installed"
    if torch.cuda.is_available():
        hip = bool(torch.version.hip)
        devices = []
        for index in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(index)
            devices.append(DetectedDevice(
                index=index,
                name=props.name,
                source="torch",
                memory_gib=round(props.total_memory / 2**30, 2),
                compute_capability=None if hip else (props.major, props.minor),
                arch=getattr(props, "gcnArchName", "") if hip else "",
                driver=f"HIP {torch.version.hip}" if hip else f"CUDA {torch.version.cuda}",
                kind="rocm" if hip else "cuda",
            ))
        return devices, "ok"
    if torch.backends.mps.is_available():
        return [DetectedDevice(0, "Apple MPS", "torch", kind="mps")], "ok"
    return [], f"torch {torch.__version__}: no CUDA, ROCm or MPS device (torch.version.cuda={torch.version.cuda})"


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return ""


def detect_cpu() -> tuple:
    """The CPU, and on macOS the MPS device (from sysctl)."""
    if platform.system() == "Darwin":
        keys = ["hw.memsize", "hw.ncpu", "machdep.cpu.brand_string", "hw.optional.arm.FEAT_BF16"]
        code, output = _run(["sysctl", *keys])
        return macos_devices(parse_sysctl(output if code == 0 else ""))
    info = parse_cpuinfo(_read("/proc/cpuinfo"), _read("/proc/meminfo"))
    return replace(info, model=info.model or platform.processor(), cores=info.cores or (os.cpu_count() or 0)), []


def detect(use_torch: bool = False) -> Machine:
    """Ask every source in turn; the first that finds accelerators provides the list."""
    cpu, mac_devices = detect_cpu()
    machine = Machine(cpu=cpu, system=f"{platform.system()} {platform.machine()}")
    probes = [("nvidia-smi", probe_nvidia_smi), ("nvml", probe_nvml), ("rocm-smi", probe_rocm_smi)]
    if use_torch:
        probes.insert(0, ("torch", probe_torch))
    else:
        machine.probes.append(("torch", "not asked (use --torch)"))
    for source, probe in probes:
        if machine.devices:
            machine.probes.append((source, "skipped: devices already found"))
            continue
        devices, outcome = probe()
        machine.devices = list(devices)
        machine.probes.append((source, outcome if devices or outcome != "ok" else "no devices"))
    if not machine.devices and mac_devices:
        machine.devices = mac_devices
        machine.probes.append(("sysctl", "ok"))
    return machine
