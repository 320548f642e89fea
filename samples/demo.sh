#!/usr/bin/env bash
# The sample job: inspect a checkpoint and its tokenizer, convert it to a
# ckpt-hdf5 store, back to safetensors (byte-identical), to bf16, and to a
# sharded directory.
set -euo pipefail
cd "$(dirname "$0")/.."
CKPT=${CKPT:-.build/release/ckpt}
OUT=demo-out
rm -rf "$OUT" && mkdir -p "$OUT"
start=$(date +%s.%N)

step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "${*:2}"; "${@:2}"; }

step "What the sample checkpoint holds" "$CKPT" inspect samples/tiny-bert --summary
step "Its tokenizer, as Hugging Face tokenizers would run it" \
  "$CKPT" tokenize samples/tiny-bert "Checkpoints move between formats, exactly." --json
step "Convert the model directory to one HDF5 store (config + tokenizer ride along)" \
  "$CKPT" convert samples/tiny-bert "$OUT/tiny-bert.h5"
step "Inspect the store" "$CKPT" inspect "$OUT/tiny-bert.h5" --summary
step "The store runs exactly like the original (CPU forward pass, both models)" \
  "$CKPT" verify "$OUT/tiny-bert.h5" samples/tiny-bert --max-abs 0
step "Back to a model directory" "$CKPT" convert "$OUT/tiny-bert.h5" "$OUT/tiny-bert-back"
step "Byte-identical to what transformers wrote" cmp samples/tiny-bert/model.safetensors "$OUT/tiny-bert-back/model.safetensors"
echo "identical"
step "A bf16 copy" "$CKPT" convert samples/tiny-bert "$OUT/tiny-bert-bf16" --dtype bf16
step "How far the bf16 copy drifts (a mismatch is expected here)" \
  bash -c "'$CKPT' verify '$OUT/tiny-bert-bf16' samples/tiny-bert || true"
step "Fill-mask with the sample model" "$CKPT" predict samples/tiny-bert "the cat [MASK] on the mat." --top-k 3
step "Sharded, as save_pretrained(max_shard_size=...) would" \
  "$CKPT" convert samples/tiny-bert "$OUT/tiny-bert-sharded" --shard-size 40KB
ls "$OUT/tiny-bert-sharded"
if command -v h5ls >/dev/null; then
  step "The store's layout, as HDF5's own tools see it" bash -c "h5ls -r '$OUT/tiny-bert.h5' | head -n 12"
fi
end=$(date +%s.%N)
printf '\ndemo finished in %.2f s; outputs in %s/\n' "$(echo "$end - $start" | bc 2>/dev/null || echo 0)" "$OUT"
