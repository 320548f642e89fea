#!/usr/bin/env bash
# The demo's masked-LM run (samples/demo.sh: the domain model, the Python-docs
# corpus, 240 steps) at fp32 and at --precision bf16, same seed: the training
# and evaluation losses side by side, and the largest relative difference.
# Needs `make demo` to have run once (it leaves demo-out/domain).
set -euo pipefail
cd "$(dirname "$0")/.."
CKPT=${CKPT:-.build/release/ckpt}
STEPS=${STEPS:-240}
THREADS=${THREADS:-2}
OUT=bench/out/bf16-loss; rm -rf "$OUT"; mkdir -p "$OUT"
for p in fp32 bf16; do
  "$CKPT" train --model demo-out/domain --corpus samples/corpus/python-docs.txt --out "$OUT/$p" --eval-ratio 0.05 \
    --max-length 64 --batch-size 16 --lr 3e-4 --warmup-ratio 0.06 --max-steps "$STEPS" \
    --eval-steps $((STEPS / 4)) --save-steps "$STEPS" --logging-steps $((STEPS / 12)) --threads "$THREADS" \
    --precision "$p" > "$OUT/$p.log"
done
python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
def rows(p):
    return [json.loads(l) for l in open(f"{out}/{p}/metrics.jsonl") if l.strip()]
a, b = rows("fp32"), rows("bf16")
print("| step | fp32 loss | bf16 loss | difference |")
print("|---:|---:|---:|---:|")
worst = 0.0
for x, y in zip(a, b):
    for key in ("loss", "eval_loss"):
        if key in x and key in y:
            d = (y[key] - x[key]) / x[key]
            worst = max(worst, abs(d))
            print(f"| {x.get('step')}{' (eval)' if key == 'eval_loss' else ''} | {x[key]:.4f} | {y[key]:.4f} | {d:+.2%} |")
print(f"\nlargest relative difference: {worst:.2%}")
PY
