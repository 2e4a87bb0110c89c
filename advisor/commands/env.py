"""`prec-advisor env`: what this machine (or a named GPU) has, and what each precision means there.

The point is the why at a glance: native or emulated, matmul rate against
fp32, memory per billion parameters, and the recommendation with its reasons.
"""
from __future__ import annotations

import json
import sys

from advisor.hardware import recommend
from advisor.hardware import table as hardware

EXIT_OK, EXIT_ERROR = 0, 2


def add_arguments(parser) -> None:
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    parser.add_argument("--torch", action="store_true",
                        help="also ask torch (imports it; respects CUDA_VISIBLE_DEVICES)")
    parser.add_argument("--gpu", metavar="NAME",
                        help="show a hardware-table entry instead of detecting (e.g. a100, t4)")


def _device_report(gpu) -> dict:
    return {
        "device": gpu.to_json(),
        "modes": recommend.precision_profile(gpu),
        "recommendation": recommend.recommend(gpu).to_json(),
    }


def _fmt(value, suffix="") -> str:
    return "-" if value is None else f"{value:g}{suffix}"


def _device_text(report: dict) -> list:
    device, rec = report["device"], report["recommendation"]
    capability = device["compute_capability"] and f"compute capability {device['compute_capability']}, "
    arch = device["arch"] and f"{device['arch']}, "
    lines = [
        f"{device['name']}  [{device['key']}]",
        f"  {capability or arch or ''}memory {_fmt(device['memory_gib'], ' GiB')}, "
        f"native bf16: {'yes' if device['bf16_native'] else 'no'}, FP8 (TE): {'yes' if device['fp8'] else 'no'}, "
        f"bitsandbytes int8 fast path: {'yes' if device['bnb_fast_int8'] else 'no'}",
        f"  {'mode':<19}{'support':<12}{'TFLOPS':>8}{'x fp32':>8}{'GiB/1B weights':>16}{'GiB/1B train':>14}  note",
    ]
    for row in report["modes"]:
        lines.append(
            f"  {row['mode']:<19}{row['support']:<12}{_fmt(row['matmul_tflops']):>8}"
            f"{_fmt(row['relative_to_fp32']):>8}{row['weights_gib_per_billion']:>16.2f}"
            f"{row['training_gib_per_billion']:>14.2f}  {row['note']}".rstrip())
    lines.append(f"  recommended: precision={rec['precision']!r}")
    lines.extend(f"    - {reason}" for reason in rec["reasons"])
    if device["source"]:
        lines.append(f"  source: {device['source']}")
    return lines


def _text(data: dict) -> str:
    lines = []
    machine = data.get("machine")
    if machine:
        cpu = machine["cpu"]
        flags = ", ".join(cpu["bf16_flags"]) or "no avx512_bf16/amx_bf16"
        lines.append(f"System: {machine['system']}")
        lines.append(f"CPU: {cpu['model'] or 'unknown'}, {cpu['cores']} logical cores, "
                     f"{_fmt(cpu['memory_gib'], ' GiB')}, "
                     f"native bf16: {'yes' if cpu['bf16_native'] else 'no'} ({flags})")
        if machine["gpus"]:
            lines.append(f"GPUs: {len(machine['gpus'])}")
            lines.extend(f"  {g['index']}: {g['name']}, {_fmt(g['memory_gib'], ' GiB')}, via {g['source']}"
                         for g in machine["gpus"])
        else:
            lines.append("GPUs: none detected")
        lines.extend(f"  {probe['source']}: {probe['outcome']}" for probe in machine["probes"])
        lines.append("")
    for report in data["devices"]:
        lines.extend(_device_text(report))
        lines.append("")
    if len(data["devices"]) > 1:
        rec = data["recommendation"]
        lines.append(f"Advising for the weakest: {data['target']['name']}: precision={rec['precision']!r}")
    return "\n".join(lines).rstrip() + "\n"


def run(args) -> int:
    if args.gpu:
        try:
            target = hardware.lookup(args.gpu)
        except hardware.UnknownGpu as exc:
            print(f"prec-advisor: error: {exc}", file=sys.stderr)
            return EXIT_ERROR
        machine, gpus = None, [target]
    else:
        from advisor.hardware import detect  # reads the machine: only when asked to

        machine = detect.detect(use_torch=args.torch)
        target = machine.target()
        gpus = list({gpu.key: gpu for gpu in machine.gpus}.values()) or [target]
    data = {
        "version": 1,
        "machine": machine.to_json() if machine else None,
        "target": target.to_json(),
        "devices": [_device_report(gpu) for gpu in gpus],
        "recommendation": recommend.recommend(target).to_json(),
    }
    if args.format == "json":
        print(json.dumps(data, indent=2))
    else:
        sys.stdout.write(_text(data))
    return EXIT_OK
