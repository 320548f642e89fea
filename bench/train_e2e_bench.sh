#!/usr/bin/env bash
# End-to-end masked-LM training: `ckpt train` against the seed notebooks' loop in
# PyTorch eager + transformers (bench/hf_train_loop.py), from the same randomly
# initialised DistilBERT-base-sized model with all-MiniLM-L6-v2's BERT uncased
# tokenizer, on the same text (Python standard library docs, PSF license), same
# batch size, accumulation, max length, masking, schedule, eval cadence and
# thread count. Wall time of the whole command: loading, tokenizing, training,
# evaluating, saving. Tokens/s counts the real (unpadded) tokens trained on.
set -euo pipefail
cd "$(dirname "$0")/.."
CKPT=$PWD/.build-bench/release/ckpt
THREADS=${THREADS:-2}
STEPS=${STEPS:-20}
LINES=${LINES:-3000}
swift build -c release --scratch-path .build-bench >/dev/null
bash bench/tokenize_bench.sh >/dev/null 2>&1 || true   # fetches the tokenizer and the text corpus
OUT=bench/out/train-e2e; mkdir -p "$OUT"
head -n "$LINES" bench/out/tokenize/corpus.txt > "$OUT/corpus.txt"
if [ ! -f "$OUT/distilbert-base/model.safetensors" ]; then
  mkdir -p "$OUT/cfg"
  cat > "$OUT/cfg/config.json" <<'JSON'
{"architectures": ["DistilBertForMaskedLM"], "model_type": "distilbert", "vocab_size": 30522, "dim": 768, "n_layers": 6, "n_heads": 12, "hidden_dim": 3072, "max_position_embeddings": 512, "activation": "gelu", "dropout": 0.1, "attention_dropout": 0.1, "initializer_range": 0.02, "pad_token_id": 0}
JSON
  python3 -W ignore bench/make_mlm_model.py "$OUT/cfg" bench/out/tokenize/minilm "$OUT/distilbert-base" 2>/dev/null
fi
COMMON="--batch-size 8 --grad-accum 2 --max-length 128 --max-steps $STEPS --eval-steps 10 --lr 5e-5 --warmup-steps 2 --threads $THREADS"
rm -rf "$OUT/ckpt-run" "$OUT/hf-run"
/usr/bin/time -f "%e %M" -o "$OUT/ckpt.time" "$CKPT" train --model "$OUT/distilbert-base" --corpus "$OUT/corpus.txt" \
  --out "$OUT/ckpt-run" --eval-ratio 0.05 $COMMON > "$OUT/ckpt.log"
python3 -W ignore bench/hf_train_loop.py "$OUT/distilbert-base" "$OUT/corpus.txt" "$OUT/hf-run" --eval-ratio 0.05 $COMMON \
  2>/dev/null | tail -1 > "$OUT/hf.json"
read cw crss < "$OUT/ckpt.time"
python3 - "$cw" "$crss" "$OUT" <<'PY'
import json, sys
cw, crss, out = float(sys.argv[1]), int(sys.argv[2]) / 1024, sys.argv[3]
hf = json.load(open(f"{out}/hf.json"))
print("| run | wall time | steps | peak RSS |")
print("|---|---:|---:|---:|")
print(f"| `ckpt train` | {cw:.1f} s | {hf['steps']} | {crss:.0f} MiB |")
print(f"| transformers loop | {hf['wall_s']:.1f} s | {hf['steps']} | {hf['peak_rss_mb']:.0f} MiB |")
print(f"\nratio (transformers wall / ckpt wall): {hf['wall_s'] / cw:.2f}; transformers: {hf['tokens_per_s']:.0f} real tokens/s")
PY
tail -3 "$OUT/ckpt.log"
