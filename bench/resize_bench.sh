#!/usr/bin/env bash
# resize-vocab: ckpt against transformers' resize_token_embeddings + save_pretrained
# (mean_resizing on and off), BERT-base-sized BertForMaskedLM (random weights,
# written by transformers) with all-MiniLM-L6-v2's 30,522-token tokenizer, moved onto
# a 50,000-token domain tokenizer (bench/make_domain_tokenizer.py: the old tokens
# reordered, 19,478 new ones). Wall time and peak RSS of each whole command,
# best of 3, 2 threads. transformers keeps rows by id; ckpt maps them by token string.
set -euo pipefail
cd "$(dirname "$0")/.."
CKPT=$PWD/.build-bench/release/ckpt
swift build -c release --scratch-path .build-bench >/dev/null
bash bench/tokenize_bench.sh >/dev/null 2>&1 || true   # fetches the MiniLM tokenizer
OUT=bench/out/resize; mkdir -p "$OUT"
if [ ! -f "$OUT/bert-base/model.safetensors" ]; then
  mkdir -p "$OUT/cfg"
  cat > "$OUT/cfg/config.json" <<'JSON'
{"architectures": ["BertForMaskedLM"], "model_type": "bert", "vocab_size": 30522, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072, "max_position_embeddings": 512, "type_vocab_size": 2, "hidden_act": "gelu", "layer_norm_eps": 1e-12, "initializer_range": 0.02, "pad_token_id": 0}
JSON
  python3 -W ignore bench/make_mlm_model.py "$OUT/cfg" bench/out/tokenize/minilm "$OUT/bert-base" 2>/dev/null
fi
[ -f "$OUT/domain50k/tokenizer.json" ] || python3 bench/make_domain_tokenizer.py bench/out/tokenize/minilm 50000 "$OUT/domain50k" >/dev/null
best() {  # best wall time and its RSS over 3 runs of "$@" (output dir removed before each)
  local b=999999 r=0
  for i in 1 2 3; do
    rm -rf "$OUT/run"
    /usr/bin/time -f "%e %M" -o "$OUT/t" "$@" > "$OUT/log" 2>&1
    read w m < "$OUT/t"
    if python3 -c "import sys; sys.exit(0 if $w < $b else 1)"; then b=$w; r=$m; fi
  done
  echo "$b $((r / 1024))"
}
echo "| run | wall time | peak RSS |"
echo "|---|---:|---:|"
for init in subword-mean mean normal; do
  read w m <<< "$(best "$CKPT" resize-vocab "$OUT/bert-base" --tokenizer "$OUT/domain50k" --out "$OUT/run" --init $init)"
  echo "| \`ckpt resize-vocab --init $init\` | $w s | $m MiB |"
done
read w m <<< "$(best python3 -W ignore bench/hf_resize.py "$OUT/bert-base" "$OUT/domain50k" "$OUT/run")"
echo "| transformers \`resize_token_embeddings\` + \`save_pretrained\` | $w s | $m MiB |"
read w m <<< "$(best python3 -W ignore bench/hf_resize.py "$OUT/bert-base" "$OUT/domain50k" "$OUT/run" --mean-resizing)"
echo "| transformers, \`mean_resizing=True\` | $w s | $m MiB |"
rm -rf "$OUT/run"
"$CKPT" resize-vocab "$OUT/bert-base" --tokenizer "$OUT/domain50k" --out "$OUT/run" | sed 's/^/    /'
