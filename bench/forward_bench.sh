#!/usr/bin/env bash
# Forward-pass throughput: ckpt bench forward vs PyTorch eager (transformers,
# attn_implementation="eager"), same random-weight configs, batch 8 x 128,
# same thread count, best of 5 batches after a warm-up, alternating runs.
set -euo pipefail
cd "$(dirname "$0")/.."
CKPT=.build-bench/release/ckpt
THREADS=${THREADS:-2}
swift build -c release --scratch-path .build-bench >/dev/null
OUT=bench/out/forward; mkdir -p "$OUT/bert-base" "$OUT/distilbert-base"
cat > "$OUT/bert-base/config.json" <<'JSON'
{"architectures": ["BertModel"], "model_type": "bert", "vocab_size": 30522, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072, "max_position_embeddings": 512, "type_vocab_size": 2, "hidden_act": "gelu", "layer_norm_eps": 1e-12, "initializer_range": 0.02}
JSON
cat > "$OUT/distilbert-base/config.json" <<'JSON'
{"architectures": ["DistilBertModel"], "model_type": "distilbert", "vocab_size": 30522, "dim": 768, "n_layers": 6, "n_heads": 12, "hidden_dim": 3072, "max_position_embeddings": 512, "activation": "gelu", "initializer_range": 0.02}
JSON
# ckpt runs with the kernel it picks (AVX-512 where the CPU has it) and, for
# comparison, with OpenBLAS's cblas_sgemm (CKPT_SGEMM=openblas).
echo "| model | ckpt tokens/s | ckpt GFLOP/s | ckpt with OpenBLAS sgemm tokens/s | PyTorch eager tokens/s | ratio |"
echo "|---|---:|---:|---:|---:|---:|"
best() { python3 -c "import json,sys; print(max($1, json.loads(sys.argv[1])['$2']))" "$3"; }
for m in distilbert-base bert-base; do
  c=0; g=0; o=0; p=0
  for round in 1 2; do
    r=$("$CKPT" bench forward "$OUT/$m/config.json" --batch 8 --seq 128 --iterations 5 --threads "$THREADS" --json)
    c=$(best "$c" tokens_per_s "$r"); g=$(best "$g" gflop_per_s "$r")
    r=$(CKPT_SGEMM=openblas "$CKPT" bench forward "$OUT/$m/config.json" --batch 8 --seq 128 --iterations 5 --threads "$THREADS" --json)
    o=$(best "$o" tokens_per_s "$r")
    t=$(python3 -W ignore bench/torch_forward.py "$OUT/$m" --batch 8 --seq 128 --iterations 5 --threads "$THREADS" 2>/dev/null | tail -1)
    p=$(best "$p" tokens_per_s "$t")
  done
  python3 -c "print(f'| $m | {$c:.0f} | {$g:.0f} | {$o:.0f} | {$p:.0f} | {$c/$p:.2f} |')"
done
echo
echo "sgemm peak (1024³, $THREADS threads): $("$CKPT" bench sgemm --threads "$THREADS" --json)"
echo "OpenBLAS core type: ${OPENBLAS_CORETYPE:-auto}; threads: $THREADS"
