#!/usr/bin/env bash
# Builds the committed seed corpora of the fuzz harnesses (Tests/Fixtures/fuzz/seeds/<harness>/)
# from the fixtures: small files of each format, valid ones and the known-hostile ones.
# Usage: bash tools/fuzz/make_seeds.sh [CKPT]   (CKPT converts a small model to an hdf5 store)
set -euo pipefail
cd "$(dirname "$0")/../.."
CKPT=${1:-.build/release/ckpt}
F=Tests/Fixtures
S=$F/fuzz/seeds
rm -rf "$S"
for h in safetensors shard-index pytorch hdf5 json config tokenizer-json vocab-txt corpus labelled trainer-state; do mkdir -p "$S/$h"; done

cp $F/python-written.safetensors $F/python-written-nometa.safetensors $F/casts.safetensors "$S/safetensors/"
cp $F/bert-sharded/model.safetensors.index.json "$S/shard-index/"
cp $F/torch/mixed-zip.bin $F/torch/mixed-legacy.bin $F/torch/big-endian.bin "$S/pytorch/"
for f in $F/torch/malicious/*.pkl $F/torch/malicious/*.bin; do cp "$f" "$S/pytorch/malicious-$(basename "$f")"; done
"$CKPT" convert $F/python-written.safetensors "$S/hdf5/ckpt-written.h5" >/dev/null
# Stores h5py writes in other formats (FIXTURE_PYTHON, with h5py; else the committed ones stay).
if ${FIXTURE_PYTHON:-python3} -c "import h5py" 2>/dev/null; then
  ${FIXTURE_PYTHON:-python3} tools/fuzz/make_hdf5_seeds.py "$S/hdf5"
else
  git checkout -- "$S/hdf5/h5py-*.h5" 2>/dev/null || echo "no h5py: the hdf5 seeds written by h5py are missing"
fi
d=$F/model-goldens/distilbert
cp $d/config.json "$S/config/distilbert.json"
cp $F/model-goldens/bert-gelu/config.json "$S/config/bert.json"
# The RoBERTa family (position offset after pad_token_id, its heads) and a task head's labels.
cp $F/model-goldens/roberta/config.json "$S/config/roberta.json"
cp $F/task-goldens/xlm-roberta-multi/config.json "$S/config/xlm-roberta-classifier.json"
cp $d/config.json "$S/json/config.json"
cp $d/tokenizer_config.json "$S/json/tokenizer_config.json"
cp $d/tokenizer.json "$S/tokenizer-json/wordpiece.json"
for t in tokenizer-canonical/wordpiece tokenizer-canonical/vocab-txt; do cp $F/$t/tokenizer.json "$S/tokenizer-json/$(basename $t).json"; done
# The smallest tokenizer.json of each model type among the fixtures (BPE, Unigram).
for kind in BPE Unigram; do
  f=$(grep -l "\"type\": *\"$kind\"" $(find $F -name tokenizer.json -size -120k) 2>/dev/null | xargs -r ls -S | tail -1)
  [ -n "$f" ] && cp "$f" "$S/tokenizer-json/$(echo "$kind" | tr A-Z a-z).json"
done
# Every component ckpt reads, in tokenizer.json files the tokenizers library writes
# (FIXTURE_PYTHON, with tokenizers and sentencepiece; else the committed ones stay),
# and the hostile Unigram files (a damaged charsmap, NaN and infinite scores, unk_id wrong).
if ${FIXTURE_PYTHON:-python3} -c "import tokenizers, sentencepiece" 2>/dev/null; then
  ${FIXTURE_PYTHON:-python3} tools/fuzz/make_tokenizer_seeds.py "$S/tokenizer-json"
else
  for n in components bert-pipeline bpe-metaspace bpe-bytelevel unigram-charsmap; do
    git checkout -- "$S/tokenizer-json/$n.json" 2>/dev/null || echo "no tokenizers: the tokenizer-json seed $n.json is missing"
  done
fi
for f in $F/unigram-goldens/bad/*.json; do
  [ "$(basename "$f")" = README.json ] || cp "$f" "$S/tokenizer-json/hostile-$(basename "$f")"
done
# vocab.txt, tokenizer_config.json and special_tokens_map.json joined by NUL bytes.
{ cat $d/vocab.txt; printf '\0'; cat $d/tokenizer_config.json; printf '\0'; cat $d/special_tokens_map.json; } > "$S/vocab-txt/distilbert"
cp $d/vocab.txt "$S/vocab-txt/vocab-only"
printf 'the cat sat on the mat.\nA bird saw the tree!\n\nünïcödé text\n' > "$S/corpus/text"
printf '{"text": "the cat sat"}\n{"input_ids": [2, 5, 6, 3]}\n{"input_ids": [2, 7], "labels": [-100, 7]}\n' > "$S/corpus/jsonl"
head -c 4000 $F/task-goldens/e2e/classification.csv > "$S/labelled/classification.csv"
head -c 4000 $F/task-goldens/e2e/regression.tsv > "$S/labelled/regression.tsv"
head -c 4000 $F/task-goldens/e2e/multi-label.jsonl > "$S/labelled/multi-label.jsonl"
# A trainer_state.json as ckpt writes it: one step of the harness's own run.
cat > "$S/trainer-state/state.json" <<'JSON'
{
  "global_step": 1,
  "optimizer_step": 1,
  "epoch": 0.1,
  "log_history": [{"step": 1, "loss": 6.9, "learning_rate": 5e-05}],
  "run": {"learning_rate": 5e-05, "batch_size": 4, "seed": 42, "threads": 1, "sgemm": "avx512"}
}
JSON
# And one a CLI run writes with everything a resume reads: the evaluation record
# (best metric, plateau), two micro-batches per step, the plateau scheduler.
run=$(mktemp -d)
printf 'the cat sat on the mat %s. a bird saw the tree!\n' $(seq 1 40) > "$run/corpus.txt"
"$CKPT" train --model $F/model-goldens/distilbert --corpus "$run/corpus.txt" --out "$run/out" --max-steps 2 \
  --batch-size 4 --grad-accum 2 --eval-ratio 0.25 --eval-steps 1 --save-steps 2 --scheduler plateau --keep-best \
  --threads 1 --max-length 16 >/dev/null
cp "$run/out/checkpoint-2/trainer_state.json" "$S/trainer-state/cli-run-evaluation.json"
# The harness's other input, optimizer.safetensors: part of the run's (all of it is 214 kB).
python3 tools/fuzz/optimizer_seed.py "$run/out/checkpoint-2/optimizer.safetensors" "$S/trainer-state/optimizer.safetensors"
rm -rf "$run"
# Small seeds keep the fuzzers fast (libFuzzer's -max_len follows them) and the repository light.
find "$S" -type f -size +64k -print -delete | sed 's/^/dropped (over 64 KiB): /'
du -sh "$S"
