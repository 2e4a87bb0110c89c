#!/usr/bin/env bash
# Validate the bundled examples on a CUDA GPU and assert what must come out (never run by CI).
#
#   scripts/gpu_check.sh                  # results in a temporary folder
#   OUT=results scripts/gpu_check.sh      # ... or under $OUT
#
# Checks its dependencies first (exit 2 naming what is missing), then prints one line per check,
# PASS/FAIL/SKIP and what it asserts, and writes <check>.json, .png, .txt (the table) and .log
# under $OUT. Exit 0 when every check passed, 1 when one failed. Sized for well under 5 minutes on
# one GPU: tiny models, 30 measured steps, one child process per run, one round (--rounds 1) except
# the speed check, which runs two interleaved rounds for its interval.
set -u
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

missing() { echo "gpu_check: missing: $1"; exit 2; }
command -v timeout >/dev/null || missing "the timeout command (coreutils)"
"$PYTHON" -c "import advisor" 2>/dev/null || missing "prec-advisor importable by $PYTHON"
"$PYTHON" -c "import torch, lightning" 2>/dev/null || missing "torch and lightning: pip install 'prec-advisor[torch]'"
"$PYTHON" -c "import matplotlib" 2>/dev/null || missing "matplotlib (for the plots): pip install 'prec-advisor[plot]'"
"$PYTHON" -c "import torch, sys; sys.exit(not torch.cuda.is_available())" 2>/dev/null ||
    missing "a CUDA GPU visible to torch"
CAPABILITY=$("$PYTHON" -c "import torch; print('%d%d' % torch.cuda.get_device_capability(0))")
OUT_DIR=${OUT:-$(mktemp -d)}
mkdir -p "$OUT_DIR"
passed=0 failed=0

validate() {  # check name, then validate's arguments; leaves the exit status in <name>.rc
    local name=$1; shift
    timeout 240 "$PYTHON" -m advisor validate "$@" --format json --plot "$OUT_DIR/$name.png" \
        >"$OUT_DIR/$name.json" 2>"$OUT_DIR/$name.log"
    echo $? >"$OUT_DIR/$name.rc"
    "$PYTHON" -c 'import json, sys; from advisor.validate.report import table; print(table(json.load(open(sys.argv[1]))))' \
        "$OUT_DIR/$name.json" >"$OUT_DIR/$name.txt" 2>/dev/null
}

expect() {  # check name, a Python condition over rc, d (the report), runs (entries by precision), log; its meaning
    local name=$1 condition=$2 meaning=$3
    if "$PYTHON" - "$OUT_DIR/$name" "$condition" 2>>"$OUT_DIR/$name.log" <<'PY'
import json, pathlib, sys
base, condition = sys.argv[1], sys.argv[2]
rc = int(pathlib.Path(base + ".rc").read_text())
log = pathlib.Path(base + ".log").read_text()
try:
    d = json.loads(pathlib.Path(base + ".json").read_text())
except ValueError:
    d = {}
runs = {c["precision"]: c for c in d.get("candidates", [])}
try:
    ok = bool(eval(condition))
except Exception as exc:  # a missing key is a failed expectation, said in the log
    print(f"expectation raised {exc!r}", file=sys.stderr)
    ok = False
sys.exit(0 if ok else 1)
PY
    then echo "PASS $name: $meaning"; passed=$((passed + 1))
    else echo "FAIL $name: $meaning (see $OUT_DIR/$name.log)"; failed=$((failed + 1)); fi
}

skip() { echo "SKIP $1: $2"; }

# 1. The regression example trains the same in bf16 as in fp32, and what ran is what was asked for.
validate regression examples/regression.py --candidates bf16-mixed,bf16-true,16-mixed --steps 30 --warmup 5 --rounds 1
if [ "$CAPABILITY" -ge 80 ]; then
    expect regression 'rc == 0 and all(runs[p]["status"] == "pass" and runs[p]["effective_precision"] == p
                       for p in ("bf16-mixed", "bf16-true"))' "bf16-mixed and bf16-true pass, exactly as asked"
else
    skip regression "bf16 expectations need compute capability 8.0+ (this GPU: $CAPABILITY)"
fi
expect regression 'runs["16-mixed"]["effective_precision"] == "16-mixed" and d["speed_representative"]' \
    "16-mixed runs as fp16 on CUDA (no fallback); speed marked representative"

# 2. Activations above 65504 overflow fp16: 16-true must fail, bf16-mixed must not.
validate overflow examples/overflow.py --candidates 16-true,bf16-mixed --steps 20 --warmup 2 --rounds 1
expect overflow 'runs["16-true"]["status"] == "fail" and runs["16-true"]["nan"] > 0' "16-true fails with non-finite loss"
expect overflow 'runs["bf16-mixed"]["status"] == "pass"' "bf16-mixed passes on the overflow example"

# 3. Where the matmuls dominate, a 16-bit mixed precision beats fp32 beyond the measured spread.
cat >"$OUT_DIR/wide_regressor.py" <<PY
import sys
sys.path.insert(0, "$PWD/examples")
from regression import Regressor


def wide():
    return Regressor(features=512, hidden=8192, samples=32768, batch_size=2048)
PY
validate winner examples/regression.py --model "$OUT_DIR/wide_regressor.py:wide" --candidates bf16-mixed,16-mixed \
    --steps 30 --warmup 5 --rounds 2
if [ "$CAPABILITY" -ge 80 ]; then
    expect winner '(d["winner"] in ("bf16-mixed", "16-mixed") or (d["tied"] and "32-true" not in d["tied"]))
                   and all(runs[p]["status"] == "pass" for p in ("bf16-mixed", "16-mixed"))' \
        "a 16-bit mixed precision is significantly faster than 32-true on a bf16 GPU"
else
    skip winner "the bf16 speed expectation needs compute capability 8.0+ (this GPU: $CAPABILITY)"
fi

# 4. The memory cap works with CUDA: a generous cap lets CUDA start (RLIMIT_AS would not), a small one stops the run.
validate memory_ok examples/regression.py --candidates bf16-mixed --steps 10 --warmup 2 --memory-limit 2048 --rounds 1
expect memory_ok 'rc == 0 and runs["bf16-mixed"]["status"] == "pass"' "a 2 GiB cap leaves a small run alone"
validate memory_cap examples/regression.py --model "$OUT_DIR/wide_regressor.py:wide" --candidates bf16-mixed \
    --steps 10 --warmup 2 --memory-limit 256 --rounds 1
expect memory_cap 'rc == 2 and "memory" in log.lower() and "Traceback" not in log' \
    "a 256 MiB cap stops the wide model with a one-line memory error"

# 5. The defaults: the advisor's picks for this GPU; the recommended precision must pass.
validate defaults examples/regression.py --steps 30 --warmup 5 --rounds 1
expect defaults 'rc == 0 and d["recommended_passed"] and d["hardware"]["device"] == "cuda"' \
    "the advisor's pick for this GPU passes"

# ---- 6. PrecisionAdvisor callback (section owned by the trace helper) ----
# A real fit on this GPU under its own precision (bf16-mixed on 8.0+, else 16-mixed): the callback
# must report the scatter_add_ that accumulates autocast's half output (tests/models/callback_fits.py).
FITS="$PWD/tests/models/callback_fits.py"
if (cd "$OUT_DIR" && timeout 300 "$PYTHON" "$FITS" gpu) >"$OUT_DIR/callback.log" 2>&1
then
    echo "PASS callback: $(tail -n 1 "$OUT_DIR/callback.log")"; passed=$((passed + 1))
else
    echo "FAIL callback: PrecisionAdvisor did not report the half-precision scatter_add_ (see callback.log)"
    tail -n 5 "$OUT_DIR/callback.log"; failed=$((failed + 1))
fi

echo "gpu_check: $passed passed, $failed failed; results in $OUT_DIR"
[ "$failed" -eq 0 ]
