#!/usr/bin/env bash
# Downstream tasks: `ckpt train --task classification` against transformers'
# Trainer (bench/hf_classifier_train.py), and `ckpt classify` on long texts
# against a transformers loop over the same overlapping windows
# (bench/hf_classify_long.py). 2 threads on both sides (--threads,
# OMP_NUM_THREADS/MKL_NUM_THREADS and torch.set_num_threads).
#
# Fine-tuning: the same starting model on both sides, a DistilBERT-base-sized
# DistilBertForSequenceClassification and a BERT-base-sized
# BertForSequenceClassification (768 wide, 6 / 12 layers, 12 heads, 3,072
# intermediate, 30,522 tokens: all-MiniLM-L6-v2's BERT uncased tokenizer),
# initialised by transformers (seeded, bench/make_classifier_model.py), the
# config's dropout. Data: 8 × (WARMUP + STEPS) rows of
# samples/corpus/python-docs-train.csv (docstring paragraphs labelled with
# their chapter of the Library Reference, 7 labels), shuffled once with a
# fixed seed and then read in file order by both sides (ckpt --no-shuffle;
# Trainer's train_sampling_strategy="sequential"), so step k trains on the
# same 8 examples on both sides. Batch 8, truncation to 128 tokens, AdamW lr
# 5e-5, weight decay 0.01, linear schedule without warmup, clipping at 1.0,
# no evaluation, no checkpoints. Timed: the STEPS optimizer steps after the
# first WARMUP ones. ckpt packs a batch (no padding enters a product); the
# Trainer pads each batch to its longest example. Tokens/s counts the real
# (unpadded) tokens of the timed steps on both sides; s/step is the same
# work on both sides. ckpt's step times come from OUT/metrics.jsonl (its
# cumulative tokens_per_s at step WARMUP and at the last step, with the
# per-example token counts, checked against `ckpt tokenize`); the Trainer's
# from a TrainerCallback at each step's end.
#
# Long texts: TEXTS texts of 1,000 to 3,000 words (consecutive paragraphs of
# samples/corpus/python-docs.txt), classified by the DistilBERT classifier
# that ckpt's fine-tuning run saved (OUT/final), in windows of
# CLASSIFY_LENGTH tokens sharing STRIDE tokens, batches of 8 windows, mean of
# the windows' logits. ckpt classify --json (whole command; and the same less
# a run on one short text, i.e. less loading) against the transformers loop
# (tokenize with return_overflowing_tokens, padding=True, eval + no_grad,
# batches of 8 windows in order, mean logits); also the whole Python process.
# Checks: the same windows per text, the same predicted labels, the largest
# difference of the mean logits (ckpt's from its probabilities: log p minus
# its mean, against the transformers logits minus their mean).
#
# Best of ROUNDS alternating rounds per side (shortest s/step; shortest wall).
# The machine may be shared: before each run the script waits (up to
# QUIET_WAIT s) for the CPUs to be idle, and it logs the share of the CPU that
# other processes took during each run (flagged in the tables above 5 %).
#
# Environment:
#   CKPT          ckpt binary (default .build/release/ckpt; build it first)
#   PYTHON        Python with torch, transformers and accelerate (default
#                 python3; the PyTorch side needs torch)
#   THREADS (2) STEPS (20) WARMUP (3) ROUNDS (2)
#   MODELS ("distilbert-base bert-base")  CLASSIFY (1: run the long texts)
#   TEXTS (40) CLASSIFY_LENGTH (512) STRIDE (128)  QUIET_WAIT (300)
# Outputs and logs: bench/out/task/.
set -euo pipefail
cd "$(dirname "$0")/.."
CKPT=${CKPT:-.build/release/ckpt}
PYTHON=${PYTHON:-python3}
THREADS=${THREADS:-2}
STEPS=${STEPS:-20}
WARMUP=${WARMUP:-3}
ROUNDS=${ROUNDS:-2}
MODELS=${MODELS:-"distilbert-base bert-base"}
CLASSIFY=${CLASSIFY:-1}
TEXTS=${TEXTS:-40}
CLASSIFY_LENGTH=${CLASSIFY_LENGTH:-512}
STRIDE=${STRIDE:-128}
QUIET_WAIT=${QUIET_WAIT:-300}
OUT=bench/out/task
LOGS=$OUT/logs
mkdir -p "$OUT" "$LOGS"
rm -f "$LOGS"/*

[ -x "$CKPT" ] || { echo "no ckpt binary at $CKPT: run swift build -c release first, or set CKPT=" >&2; exit 1; }
"$PYTHON" -c "import torch, transformers" 2>/dev/null ||
  { echo "the PyTorch side needs torch and transformers: set PYTHON= to a Python that has them" >&2; exit 1; }
"$PYTHON" -c "import accelerate" 2>/dev/null || "$PYTHON" -m pip install -q accelerate   # Trainer needs it
[ -x /usr/bin/time ] || { echo "installing GNU time" >&2; apt-get install -y -q time >/dev/null; }

source bench/minilm.sh
minilm_fetch

# --- data -------------------------------------------------------------------
"$PYTHON" - "$OUT" $((8 * (WARMUP + STEPS))) "$TEXTS" <<'PY'
import csv, random, sys
out, n, texts = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rows = list(csv.DictReader(open("samples/corpus/python-docs-train.csv", encoding="utf-8", newline="")))
with open(f"{out}/labels.txt", "w", encoding="utf-8") as f:
    f.write("".join(l + "\n" for l in sorted({r["label"] for r in rows})))
random.Random(42).shuffle(rows)
rows = (rows * (n // len(rows) + 1))[:n]
with open(f"{out}/train.csv", "w", encoding="utf-8", newline="") as f:
    w = csv.writer(f)
    w.writerow(["text", "label"])
    w.writerows([r["text"], r["label"]] for r in rows)
with open(f"{out}/train-texts.txt", "w", encoding="utf-8") as f:
    f.write("".join(r["text"] + "\n" for r in rows))
# Long texts: consecutive paragraphs until 1,000 ... 3,000 words, evenly spread.
paragraphs = [l.strip() for l in open("samples/corpus/python-docs.txt", encoding="utf-8") if l.strip()]
at = 0
with open(f"{out}/long-texts.txt", "w", encoding="utf-8") as f:
    for i in range(texts):
        goal, words = 1000 + (2000 * i) // max(texts - 1, 1), []
        while len(words) < goal:
            words += paragraphs[at % len(paragraphs)].split()
            at += 1
        f.write(" ".join(words) + "\n")
PY
LABELS=$(paste -sd, "$OUT/labels.txt")

# --- models -----------------------------------------------------------------
mkdir -p "$OUT/distilbert-base-config" "$OUT/bert-base-config"
cat > "$OUT/distilbert-base-config/config.json" <<'JSON'
{"architectures": ["DistilBertForSequenceClassification"], "model_type": "distilbert", "vocab_size": 30522, "dim": 768, "n_layers": 6, "n_heads": 12, "hidden_dim": 3072, "max_position_embeddings": 512, "activation": "gelu", "dropout": 0.1, "attention_dropout": 0.1, "seq_classif_dropout": 0.2, "initializer_range": 0.02, "pad_token_id": 0}
JSON
cat > "$OUT/bert-base-config/config.json" <<'JSON'
{"architectures": ["BertForSequenceClassification"], "model_type": "bert", "vocab_size": 30522, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072, "max_position_embeddings": 512, "type_vocab_size": 2, "hidden_act": "gelu", "layer_norm_eps": 1e-12, "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1, "initializer_range": 0.02, "pad_token_id": 0}
JSON
for m in $MODELS; do
  if [ ! -f "$OUT/$m/model.safetensors" ] || ! cmp -s "$OUT/labels.txt" "$OUT/$m.labels"; then
    "$PYTHON" -W ignore bench/make_classifier_model.py "$OUT/$m-config" "$MINILM_TOKENIZER" "$OUT/labels.txt" "$OUT/$m" 2>/dev/null >&2
    cp "$OUT/labels.txt" "$OUT/$m.labels"
  fi
done

# --- measuring ----------------------------------------------------------------
# busy and idle jiffies of all CPUs
cpu_jiffies() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat; }
# Waits until the CPUs have been idle (< 10 % busy) for 2 s, at most QUIET_WAIT s.
wait_quiet() {
  local start=$SECONDS b0 i0 b1 i1
  while :; do
    read -r b0 i0 < <(cpu_jiffies); sleep 2; read -r b1 i1 < <(cpu_jiffies)
    (( (b1 - b0) * 10 < (b1 - b0 + i1 - i0) )) && return 0
    if (( SECONDS - start > QUIET_WAIT )); then
      echo "warning: the CPUs are still busy ($(( 100 * (b1 - b0) / (b1 - b0 + i1 - i0 + 1) )) %) after ${QUIET_WAIT} s; measuring anyway" >&2
      return 0
    fi
    sleep 3
  done
}
# measure NAME CMD...: runs CMD under /usr/bin/time, stdout to $LOGS/NAME.out,
# stderr to $LOGS/NAME.err, and writes $LOGS/NAME.time: wall, user and system
# seconds, peak RSS (KiB), exit code, and the share of all CPUs that other
# processes used meanwhile. Never fails the script.
measure() {
  local name=$1; shift
  local b0 i0 b1 i1 rc=0
  wait_quiet
  echo "running $name" >&2
  read -r b0 i0 < <(cpu_jiffies)
  /usr/bin/time -f "%e %U %S %M" -o "$LOGS/$name.rusage" "$@" >"$LOGS/$name.out" 2>"$LOGS/$name.err" || rc=$?
  read -r b1 i1 < <(cpu_jiffies)
  read -r wall user sys rss < <(tail -n 1 "$LOGS/$name.rusage")
  awk -v w="$wall" -v u="$user" -v s="$sys" -v m="$rss" -v rc="$rc" -v db=$((b1 - b0)) -v n="$(nproc)" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { o = (db / hz - u - s) / (w * n); if (o < 0) o = 0; printf "{\"wall_s\": %s, \"user_s\": %s, \"sys_s\": %s, \"peak_rss_kb\": %s, \"rc\": %s, \"others_cpu_share\": %.3f}\n", w, u, s, m, rc, o }' \
    > "$LOGS/$name.time"
  [ "$rc" -eq 0 ] || echo "warning: $name failed (exit $rc), see $LOGS/$name.err" >&2
}

TOTAL=$((WARMUP + STEPS))
for m in $MODELS; do
  # the per-example token counts as ckpt's tokenizer makes them (truncation: the first 127 + [SEP])
  "$CKPT" tokenize "$OUT/$m" --file "$OUT/train-texts.txt" --json --threads "$THREADS" |
    "$PYTHON" -c "import json,sys; [print(min(len(json.loads(l)['ids']), 128)) for l in sys.stdin]" > "$OUT/$m.ckpt-lengths.txt"
  for round in $(seq "$ROUNDS"); do
    rm -rf "$OUT/run-$m"
    measure "ckpt-train-$m-$round" "$CKPT" train --task classification --model "$OUT/$m" --corpus "$OUT/train.csv" \
      --out "$OUT/run-$m" --labels "$LABELS" --no-shuffle --max-length 128 --batch-size 8 --max-steps "$TOTAL" \
      --lr 5e-5 --threads "$THREADS" --logging-steps 1
    cp "$OUT/run-$m/metrics.jsonl" "$LOGS/ckpt-train-$m-$round.metrics.jsonl" 2>/dev/null || true
    measure "hf-train-$m-$round" env OMP_NUM_THREADS="$THREADS" MKL_NUM_THREADS="$THREADS" \
      "$PYTHON" -W ignore bench/hf_classifier_train.py "$OUT/$m" "$OUT/train.csv" --max-length 128 --batch-size 8 \
      --max-steps "$TOTAL" --warmup-steps "$WARMUP" --lr 5e-5 --weight-decay 0.01 --threads "$THREADS" \
      --lengths "$OUT/$m.hf-lengths.txt"
  done
done

if [ "$CLASSIFY" = 1 ]; then
  if [ -f "$OUT/run-distilbert-base/final/model.safetensors" ]; then
    rm -rf "$OUT/classifier" && cp -r "$OUT/run-distilbert-base/final" "$OUT/classifier"
  elif [ ! -f "$OUT/classifier/model.safetensors" ]; then
    [ -f "$OUT/distilbert-base/model.safetensors" ] ||
      "$PYTHON" -W ignore bench/make_classifier_model.py "$OUT/distilbert-base-config" "$MINILM_TOKENIZER" "$OUT/labels.txt" "$OUT/distilbert-base" 2>/dev/null >&2
    cp -r "$OUT/distilbert-base" "$OUT/classifier"
  fi
  WINDOW="--max-length $CLASSIFY_LENGTH --stride $STRIDE --batch-size 8 --threads $THREADS"
  for round in $(seq "$ROUNDS"); do
    measure "ckpt-classify-$round" "$CKPT" classify "$OUT/classifier" --file "$OUT/long-texts.txt" --pool mean-logits $WINDOW --json
    measure "ckpt-classify-load-$round" "$CKPT" classify "$OUT/classifier" "A short text." --pool mean-logits $WINDOW --json
    measure "hf-classify-$round" env OMP_NUM_THREADS="$THREADS" MKL_NUM_THREADS="$THREADS" \
      "$PYTHON" -W ignore bench/hf_classify_long.py "$OUT/classifier" "$OUT/long-texts.txt" $WINDOW \
      --logits "$LOGS/hf-classify-$round.logits.jsonl"
  done
fi

# --- tables -------------------------------------------------------------------
"$PYTHON" - "$OUT" "$LOGS" "$MODELS" "$ROUNDS" "$WARMUP" "$STEPS" "$CLASSIFY" "$THREADS" "$CLASSIFY_LENGTH" "$STRIDE" <<'PY'
import json, math, os, re, sys
out, logs, models, rounds, W, S, classify, threads, L, stride = sys.argv[1:]
models, rounds, W, S, threads = models.split(), int(rounds), int(W), int(S), int(threads)


def load(name):
    try:
        t = json.load(open(f"{logs}/{name}.time"))
    except (OSError, ValueError):
        return None
    t["name"] = name
    return t if t["rc"] == 0 else None


def last_json(name):
    try:
        return json.loads(open(f"{logs}/{name}.out").read().strip().splitlines()[-1])
    except (OSError, ValueError, IndexError):
        return None


def flag(*runs):
    o = max((r["others_cpu_share"] for r in runs if r), default=0)
    return f" (other processes: {100 * o:.0f} % of the CPU)" if o > 0.05 else ""


def mib(r):
    return f"{r['peak_rss_kb'] / 1024:,.0f}"


print("## Fine-tuning (batch 8, max length 128, "
      f"{S} timed steps after {W}, {threads} threads)\n")
print("| model | ckpt s/step | ckpt real tokens/s | transformers s/step | transformers real tokens/s | ratio | "
      "ckpt command wall / peak RSS | Trainer script wall / peak RSS |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
notes = []
for m in models:
    lengths = [int(x) for x in open(f"{out}/{m}.hf-lengths.txt")] if os.path.exists(f"{out}/{m}.hf-lengths.txt") else None
    ck_lengths = [int(x) for x in open(f"{out}/{m}.ckpt-lengths.txt")]
    if lengths is not None and lengths != ck_lengths:
        diff = sum(a != b for a, b in zip(lengths, ck_lengths))
        notes.append(f"{m}: ckpt and transformers tokenize {diff} of {len(lengths)} training texts to different lengths")
    lengths = lengths or ck_lengths
    cum = [0]
    for k in range(W + S):
        cum.append(cum[-1] + sum(lengths[8 * k:8 * (k + 1)]))
    best_c = best_h = None
    for r in range(1, rounds + 1):
        t = load(f"ckpt-train-{m}-{r}")
        try:
            rows = {j["step"]: j for j in map(json.loads, open(f"{logs}/ckpt-train-{m}-{r}.metrics.jsonl")) if "tokens_per_s" in j}
        except OSError:
            rows = {}
        if t and W + S in rows and (W == 0 or W in rows):
            elapsed = lambda k: cum[k] / rows[k]["tokens_per_s"] if k else 0.0
            timed = elapsed(W + S) - elapsed(W)
            c = {"step_s": timed / S, "tps": (cum[W + S] - cum[W]) / timed, "run": t,
                 "loss": sum(rows[k]["loss"] for k in rows) / len(rows)}
            if best_c is None or c["step_s"] < best_c["step_s"]:
                best_c = c
        t = load(f"hf-train-{m}-{r}")
        h = last_json(f"hf-train-{m}-{r}") if t else None
        if h and (best_h is None or h["step_s"] < best_h["step_s"]):
            best_h = dict(h, run=t)
    cs = f"{best_c['step_s']:.3f} | {best_c['tps']:,.0f}" if best_c else "FAILED | –"
    hs = f"{best_h['step_s']:.3f} | {best_h['real_tokens_per_s']:,.0f}" if best_h else "FAILED | –"
    ratio = f"**{best_c['tps'] / best_h['real_tokens_per_s']:.2f}**" if best_c and best_h else "–"
    cw = f"{best_c['run']['wall_s']:.1f} s / {mib(best_c['run'])} MiB" if best_c else "–"
    hw = f"{best_h['run']['wall_s']:.1f} s / {mib(best_h['run'])} MiB" if best_h else "–"
    print(f"| {m}{flag(best_c and best_c['run'], best_h and best_h['run'])} | {cs} | {hs} | {ratio} | {cw} | {hw} |")
    if best_c and best_h:
        notes.append(f"{m}: {cum[W + S] - cum[W]:,} real tokens in the timed steps ({best_h['padded_tokens_timed']:,} with the "
                     f"Trainer's padding); transformers: {best_h['attn']} attention, {best_h['optim'].split('.')[-1].lower()}; "
                     f"mean training loss over the {W + S} steps: ckpt {best_c['loss']:.4f}, Trainer {best_h['train_loss']:.4f}")
print()
for n in notes:
    print(f"- {n}")

if classify == "1":
    print(f"\n## Long texts (windows of {L} tokens, stride {stride}, batches of 8, mean logits, {threads} threads)\n")
    texts = [l for l in open(f"{out}/long-texts.txt", encoding="utf-8") if l.strip()]
    words = [len(t.split()) for t in texts]
    best = {}
    for r in range(1, rounds + 1):
        for k in ("ckpt-classify", "ckpt-classify-load", "hf-classify"):
            t = load(f"{k}-{r}")
            if t and (k not in best or t["wall_s"] < best[k]["wall_s"]):
                best[k] = t
        h = last_json(f"hf-classify-{r}") if load(f"hf-classify-{r}") else None
        if h and ("hf" not in best or h["loop_s"] < best["hf"]["loop_s"]):
            best["hf"], best["hf_round"] = h, r
    h = best.get("hf")
    c = best.get("ckpt-classify")
    cl = best.get("ckpt-classify-load")
    n = len(texts)
    nw = h["windows"] if h else None
    ck = []
    if c:
        ck = [json.loads(l) for l in open(f"{logs}/{c['name']}.out") if l.strip()]
        for j in ck:  # the windows of a text: "chunks" (older builds: "windows")
            j["windows"] = j.get("chunks", j.get("windows"))
        nw_c = sum(j["windows"] for j in ck)
        nw = nw or nw_c

    def row(what, secs, rss, extra=""):
        print(f"| {what} | {secs:.1f} | {n / secs:.2f} | {nw / secs:.2f} | {rss} | {extra} |")

    print("| run | s | texts/s | windows/s | peak RSS MiB | notes |")
    print("|---|---:|---:|---:|---:|---|")
    if c:
        row("`ckpt classify --file` (whole command)", c["wall_s"], mib(c), flag(c).strip())
    if c and cl:
        row("`ckpt classify`, less loading (less a one-text run)", c["wall_s"] - cl["wall_s"], "",
            f"one-text run {cl['wall_s']:.2f} s{flag(cl)}")
    if h:
        hr = load(f"hf-classify-{best['hf_round']}")
        row("transformers loop (tokenize + forward + pool)", h["loop_s"], "",
            f"forward {h['forward_s']:.1f} s, tokenize {h['tokenize_s']:.2f} s; padding {100 * (1 - h['real_tokens'] / h['padded_tokens']):.1f} % of the window tokens")
        row("transformers script (whole process)", hr["wall_s"], mib(hr), f"import + load {h['load_s']:.1f} s{flag(hr)}")
    print()
    print(f"- {n} texts, {min(words):,}–{max(words):,} words ({sum(words):,} in all), {nw} windows"
          + (f", {h['real_tokens']:,} tokens" if h else "") + ".")
    if c and h:
        print(f"- ratio, whole command / whole process: **{hr['wall_s'] / c['wall_s']:.2f}**; "
              f"less loading / the loop: **{h['loop_s'] / (c['wall_s'] - cl['wall_s']):.2f}**" if cl else "")
        hf = [json.loads(l) for l in open(f"{logs}/hf-classify-{best['hf_round']}.logits.jsonl")]
        same_windows = sum(a["windows"] == b["windows"] for a, b in zip(ck, hf))
        same_label = sum(a["label"] == b["label"] for a, b in zip(ck, hf))
        dmax, margin = 0.0, []
        for a, b in zip(ck, hf):
            names = list(a["probabilities"])
            lp = [math.log(max(a["probabilities"][k], 1e-300)) for k in names]
            za = [x - sum(lp) / len(lp) for x in lp]
            zb = [x - sum(b["mean_logits"]) / len(b["mean_logits"]) for x in b["mean_logits"]]
            dmax = max(dmax, max(abs(x - y) for x, y in zip(za, zb)))
            s = sorted(b["probabilities"], reverse=True)
            margin.append(s[0] - s[1])
        print(f"- agreement: windows per text {same_windows}/{n}, predicted label {same_label}/{n}; "
              f"max |Δ mean logits| (each centred) {dmax:.2e}; smallest top-2 probability margin {min(margin):.2e}.")
        labels = sorted({a["label"] for a in ck})
        print(f"- predicted labels (ckpt): {', '.join(labels)}")

cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
flags = next((l for l in open("/proc/cpuinfo") if l.startswith("flags")), "")
print(f"\nCPU: {cpu}, {os.cpu_count()} cores, AVX-512: {'yes' if ' avx512f' in flags else 'no'}; threads {threads} on both sides.")
PY
echo "ckpt $("$CKPT" --version); $("$PYTHON" -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__)' 2>/dev/null)"
