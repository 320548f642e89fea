#!/usr/bin/env bash
# Masked-LM training throughput: ckpt bench train vs PyTorch eager +
# transformers (bench/torch_train.py), random-weight BERT-base and
# DistilBERT-base configs with their default dropout, batch 8 x 128, 15 %
# masking (80/10/10), clipping, AdamW, same thread count; mean over STEPS timed
# steps after one warm-up step, two alternating rounds, best round kept.
# With perf available, the share of ckpt's samples in matrix products.
set -euo pipefail
cd "$(dirname "$0")/.."
CKPT=.build-bench/release/ckpt
THREADS=${THREADS:-2}
STEPS=${STEPS:-5}
swift build -c release --scratch-path .build-bench >/dev/null
OUT=bench/out/train; mkdir -p "$OUT/bert-base" "$OUT/distilbert-base"
cat > "$OUT/bert-base/config.json" <<'JSON'
{"architectures": ["BertForMaskedLM"], "model_type": "bert", "vocab_size": 30522, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072, "max_position_embeddings": 512, "type_vocab_size": 2, "hidden_act": "gelu", "layer_norm_eps": 1e-12, "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1, "initializer_range": 0.02}
JSON
cat > "$OUT/distilbert-base/config.json" <<'JSON'
{"architectures": ["DistilBertForMaskedLM"], "model_type": "distilbert", "vocab_size": 30522, "dim": 768, "n_layers": 6, "n_heads": 12, "hidden_dim": 3072, "max_position_embeddings": 512, "activation": "gelu", "dropout": 0.1, "attention_dropout": 0.1, "initializer_range": 0.02}
JSON
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1]).get(sys.argv[2], 0))" "$1" "$2"; }
echo "| model | ckpt tokens/s | ckpt GFLOP/s | ckpt peak RSS | PyTorch tokens/s | PyTorch peak RSS | ratio |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for m in distilbert-base bert-base; do
  c=0; g=0; cr=0; p=0; pr=0
  for round in 1 2; do
    r=$("$CKPT" bench train "$OUT/$m/config.json" --batch 8 --seq 128 --mlm-probability 0.15 --steps "$STEPS" --threads "$THREADS" --json)
    echo "$r" > "$OUT/$m-ckpt-$round.json"
    if python3 -c "import sys; sys.exit(0 if $(field "$r" tokens_per_s) > $c else 1)"; then
      c=$(field "$r" tokens_per_s); g=$(field "$r" gflop_per_s); cr=$(field "$r" peak_rss_mb)
    fi
    t=$(python3 -W ignore bench/torch_train.py "$OUT/$m" --batch 8 --seq 128 --mlm-probability 0.15 --steps "$STEPS" --threads "$THREADS" --json 2>/dev/null | tail -1)
    echo "$t" > "$OUT/$m-torch-$round.json"
    if python3 -c "import sys; sys.exit(0 if $(field "$t" tokens_per_s) > $p else 1)"; then
      p=$(field "$t" tokens_per_s); pr=$(field "$t" peak_rss_mb)
    fi
  done
  python3 -c "print(f'| $m | {$c:.0f} | {$g:.0f} | {$cr:.0f} MiB | {$p:.0f} | {$pr:.0f} MiB | {$c/$p:.2f} |')"
done
echo
if command -v perf >/dev/null && perf record -q -o "$OUT/perf.data" "$CKPT" bench train "$OUT/distilbert-base/config.json" \
     --steps "$STEPS" --threads "$THREADS" --json >/dev/null 2>&1; then
  share=$(perf report -q -i "$OUT/perf.data" --sort dso,sym 2>/dev/null |
    awk '/libopenblas|micro_kernel|pack_a|pack_b|ckpt_sgemm_avx512/ {gsub("%","",$1); s+=$1} END {print s+0}')
  echo "DistilBERT-base: ${share}% of ckpt's samples in matrix products, packing included (whole run, including the random initialisation)"
fi
echo "OpenBLAS core type: ${OPENBLAS_CORETYPE:-auto}; threads: $THREADS; steps: $STEPS"
