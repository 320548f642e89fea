#!/usr/bin/env bash
# Tokenizer training: ckpt train-tokenizer against Hugging Face tokenizers'
# ByteLevelBPETokenizer.train / BertWordPieceTokenizer.train on the same corpus
# (bench/make_big_corpus.py, 100 MB), vocabulary 30,000, 2 threads
# (RAYON_NUM_THREADS=2). Wall time and peak RSS (/usr/bin/time -v); the BPE files
# are compared byte for byte, the WordPiece vocabularies as sets.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=bench/out/train-tokenizer
CKPT=.build-bench/release/ckpt
SIZE=${SIZE:-100M}
CORPUS=bench/out/corpus/corpus-$SIZE.txt
mkdir -p "$OUT"
[ -x /usr/bin/time ] || apt-get install -y -q time >/dev/null
python3 -c "import tokenizers" 2>/dev/null || python3 -m pip install -q tokenizers
echo "building ckpt (release, .build-bench)" >&2
swift build -c release --scratch-path .build-bench >/dev/null
if [ ! -f "$CORPUS" ]; then
  python3 bench/make_big_corpus.py "$CORPUS" "$(python3 -c "s='$SIZE'; print(int(float(s[:-1]) * {'K': 1e3, 'M': 1e6, 'G': 1e9}[s[-1]]))")" >&2
fi
measure() {  # LABEL CMD...: prints "| LABEL | wall s | peak RSS MB |"
  local label=$1; shift
  /usr/bin/time -v -o "$OUT/time.txt" "$@" >"$OUT/log.txt" 2>&1
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$OUT/time.txt")
  rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2/1024}' "$OUT/time.txt")
  printf '| %s | %s | %s |\n' "$label" "$wall" "$rss"
}
echo "| run ($SIZE corpus, vocabulary 30,000, 2 threads) | wall s | peak RSS MB |"
echo "|---|---:|---:|"
measure "ckpt train-tokenizer --type bpe" "$CKPT" train-tokenizer "$CORPUS" --out "$OUT/ckpt-bpe" --vocab-size 30000 --type bpe --threads 2 --force
measure "HF ByteLevelBPETokenizer.train" env RAYON_NUM_THREADS=2 python3 bench/hf_train_tokenizer.py bpe 30000 "$OUT/hf-bpe" "$CORPUS"
measure "ckpt train-tokenizer (wordpiece)" "$CKPT" train-tokenizer "$CORPUS" --out "$OUT/ckpt-wp" --vocab-size 30000 --threads 2 --force
measure "HF BertWordPieceTokenizer.train" env RAYON_NUM_THREADS=2 python3 bench/hf_train_tokenizer.py wordpiece 30000 "$OUT/hf-wp" "$CORPUS"
echo
for f in vocab.json merges.txt; do
  cmp -s "$OUT/ckpt-bpe/$f" "$OUT/hf-bpe/$f" && echo "BPE $f: byte-identical" || echo "BPE $f: DIFFERS"
done
python3 -c "
a = open('$OUT/ckpt-wp/vocab.txt', encoding='utf-8').read().split('\n')[:-1]
b = open('$OUT/hf-wp/vocab.txt', encoding='utf-8').read().split('\n')[:-1]
print(f'WordPiece: {len(set(a) & set(b))} of {len(b)} tokens shared ({100 * len(set(a) & set(b)) / len(b):.3f} %)')"
