#!/usr/bin/env bash
# Validate the bundled examples on a GPU machine and print the tables (never run by CI).
#
#   scripts/gpu_check.sh            # results in a temporary folder
#   OUT=results scripts/gpu_check.sh
#
# Writes <name>.json, <name>.png and <name>.log under $OUT. Sized to finish in
# well under 5 minutes on one GPU: two tiny models, 30 measured steps each.
set -u
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
OUT_DIR=${OUT:-$(mktemp -d)}
mkdir -p "$OUT_DIR"
"$PYTHON" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'gpu_check: no CUDA GPU visible')" || exit 2

failed=0
check() {  # name, then validate's arguments
    local name=$1; shift
    timeout 150 "$PYTHON" -m advisor validate "$@" --steps 30 --warmup 5 --timeout 60 --format json \
        --plot "$OUT_DIR/$name.png" >"$OUT_DIR/$name.json" 2>"$OUT_DIR/$name.log"
    local rc=$?
    echo "== $name (exit $rc)"
    if [ "$rc" -le 1 ]; then
        "$PYTHON" -c 'import json, sys; from advisor.validate.report import table; print(table(json.load(open(sys.argv[1]))))' \
            "$OUT_DIR/$name.json"
    else
        tail -n 5 "$OUT_DIR/$name.log"; failed=1
    fi
}

# The hardware's default candidates (8.0+: bf16-mixed, 16-mixed, bf16-true; 7.x: 16-mixed, 16-true),
# plus nf4 through Lightning's own BitsandbytesPrecision on CUDA.
check regression examples/regression.py --candidates bf16-mixed,16-mixed,bf16-true,16-true,nf4
check regression_defaults examples/regression.py
# Activations overflow fp16: 16-true and 16-mixed must fail, bf16-mixed must pass.
check overflow examples/overflow.py --candidates 16-mixed,16-true,bf16-mixed

# ---- PrecisionAdvisor callback (section owned by the trace helper) ----
# A real fit on the GPU under its own precision: the callback must report the bf16/fp16 scatter_add_.
echo "== callback (PrecisionAdvisor on the real GPU)"
ROOT_DIR=$(pwd)
if (cd "$OUT_DIR" && PYTHONPATH="$ROOT_DIR${PYTHONPATH:+:$PYTHONPATH}" \
        timeout 300 "$PYTHON" "$ROOT_DIR/tests/models/callback_fits.py" gpu) >"$OUT_DIR/callback.log" 2>&1; then
    tail -n 1 "$OUT_DIR/callback.log"
else
    tail -n 5 "$OUT_DIR/callback.log"; failed=1
fi

echo "results in $OUT_DIR"
exit $failed
