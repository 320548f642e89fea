#!/usr/bin/env bash
# Tokenizer throughput by script: all-MiniLM-L6-v2's BERT uncased WordPiece on
# 3 MB of Russian, Chinese and Portuguese text (this machine's gettext
# catalogs, bench/make_language_corpus.py) and English (bench/make_text_corpus.py):
# ckpt tokenize against Hugging Face `tokenizers`, 1 and 2 threads, best of 3.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=bench/out/tokenize-scripts
mkdir -p "$OUT"
if [ -z "${CKPT:-}" ]; then
  swift build -c release --scratch-path .build-bench >/dev/null
  CKPT=.build-bench/release/ckpt
fi
PY=${PY:-python3}
source bench/minilm.sh
minilm_fetch
for lang in ru zh_CN pt_BR; do
  [ -f "$OUT/$lang.txt" ] || $PY bench/make_language_corpus.py "$lang" "$OUT/$lang.txt" 3000000
done
[ -f "$OUT/en.txt" ] || { $PY -W ignore bench/make_text_corpus.py "$OUT/en-full.txt" 3000000 && head -c 3000000 "$OUT/en-full.txt" | sed '$d' > "$OUT/en.txt"; }
echo "| text | run | 1 thread MB/s | 2 threads MB/s | tokens |"
echo "|---|---|---:|---:|---:|"
for lang in en ru zh_CN pt_BR; do
  f="$OUT/$lang.txt"
  row=""
  for t in 1 2; do
    best=0
    for i in 1 2 3; do
      r=$("$CKPT" tokenize "$MINILM_TOKENIZER" --file "$f" --stats --threads $t)
      best=$(python3 -c "import json,sys; print(max($best, json.loads(sys.argv[1])['mb_per_s']))" "$r")
      tokens=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['tokens'])" "$r")
    done
    row="$row | $(printf '%.2f' "$best")"
  done
  echo "| $lang | ckpt tokenize --file$row | $tokens |"
  hf1=$(RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=true $PY -W ignore bench/hf_tokenize.py "$MINILM_TOKENIZER/tokenizer.json" "$f" 1 | head -1 | awk -F'|' '{print $4}')
  hf2=$(RAYON_NUM_THREADS=2 TOKENIZERS_PARALLELISM=true $PY -W ignore bench/hf_tokenize.py "$MINILM_TOKENIZER/tokenizer.json" "$f" 2 | head -1 | awk -F'|' '{print $4}')
  echo "| $lang | HF tokenizers encode_batch | $(echo $hf1) | $(echo $hf2) | |"
done
