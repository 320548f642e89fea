#!/usr/bin/env bash
# Data-parallel `ckpt train` under Open MPI on one machine: one process with
# THREADS threads against `mpirun -np 2` with THREADS / 2 threads a rank, at
# the same global batch (16 sequences a step: 1 process × --grad-accum 2
# against 2 ranks × --grad-accum 1, micro-batches of 8), masked-LM
# pretraining of a DistilBERT-base-sized and a BERT-base-sized model from a
# bare config.json (random weights initialised by ckpt as transformers does;
# 768 wide, 6 / 12 layers, 12 heads, 3,072 intermediate, 30,522 tokens: the
# BERT uncased tokenizer of all-MiniLM-L6-v2, copied next to the config), on
# samples/corpus/python-docs.txt in file order (--no-shuffle), max length 128,
# the config's dropout, the same seed, STEPS steps logged every step.
#
# Reported, per model and side: s/step and real tokens/s over the STEPS -
# WARMUP steps after the first WARMUP (from OUT/metrics.jsonl: its cumulative
# tokens_per_s at step WARMUP and at the last step, with the per-example token
# counts of `ckpt tokenize`, truncated to 128); the ratio; under mpirun the
# mean seconds per step in the gradient all-reduce (allreduce_s, over the
# same steps) and the algorithm bandwidth it implies (4 bytes × parameters /
# allreduce_s); the same all-reduce (same number of floats, same slices of
# 2^24 floats, in place) timed alone between two processes (Python ctypes on
# libmpi.so.40, after a barrier: the pure communication, without waiting for
# the slower rank); and whether the two sides' final weights are byte-identical
# (cmp OUT/final/model.safetensors: 2 ranks × 1 micro-batch must equal
# 1 process × 2 micro-batches). ckpt's allreduce_s is rank 0's clock and
# starts without a barrier, so it also holds the time rank 0 waits for rank 1
# to finish its micro-batch (their token counts differ; logged); the table
# also gives the shortest single step's all-reduce (from the cumulative means),
# the nearest to the communication alone.
#
# Best of ROUNDS alternating rounds per side (shortest timed s/step). The
# machine may be shared: before each run the script waits (up to QUIET_WAIT
# s) for the CPUs to be idle, and it logs the share of the CPU that other
# processes took during each run (flagged in the table above 5 %).
#
# Environment:
#   CKPT        ckpt binary (default .build/release/ckpt; build it first)
#   MPIRUN      Open MPI 4's mpirun (default mpirun)
#   PYTHON      Python 3, standard library only (default python3)
#   THREADS (2) NP (2) STEPS (12) WARMUP (3) ROUNDS (2)
#   MODELS ("distilbert-base bert-base")  RAW_REPS (5)  QUIET_WAIT (300)
# Outputs and logs: bench/out/mpi/ (the tables also in bench/out/mpi/results.md).
set -euo pipefail
cd "$(dirname "$0")/.."
CKPT=${CKPT:-.build/release/ckpt}
MPIRUN=${MPIRUN:-mpirun}
PYTHON=${PYTHON:-python3}
THREADS=${THREADS:-2}
NP=${NP:-2}
STEPS=${STEPS:-12}
WARMUP=${WARMUP:-3}
ROUNDS=${ROUNDS:-2}
MODELS=${MODELS:-"distilbert-base bert-base"}
RAW_REPS=${RAW_REPS:-5}
QUIET_WAIT=${QUIET_WAIT:-300}
OUT=bench/out/mpi
LOGS=$OUT/logs
CORPUS=samples/corpus/python-docs.txt
mkdir -p "$OUT" "$LOGS"
rm -f "$LOGS"/*

# Open MPI in a root container: allow root, shared memory without CMA/KNEM
# (ptrace is not permitted), no binding, more ranks than slots allowed.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_rmaps_base_oversubscribe=1
MPI=("$MPIRUN" -np "$NP" --bind-to none)

[ -x "$CKPT" ] || { echo "no ckpt binary at $CKPT: run swift build -c release first, or set CKPT=" >&2; exit 1; }
command -v "$MPIRUN" >/dev/null || { echo "no mpirun: install Open MPI 4 (Debian: openmpi-bin), or set MPIRUN=" >&2; exit 1; }
[ $((THREADS % NP)) -eq 0 ] || { echo "THREADS ($THREADS) must be a multiple of NP ($NP)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "installing GNU time" >&2; apt-get install -y -q time >/dev/null; }
RANK_THREADS=$((THREADS / NP))

source bench/minilm.sh
[ -f "$MINILM_TOKENIZER/tokenizer.json" ] || minilm_fetch

# --- models: a config.json and the tokenizer's files in one directory --------
for m in $MODELS; do
  mkdir -p "$OUT/$m"
  cp "$MINILM_TOKENIZER"/{tokenizer.json,tokenizer_config.json,special_tokens_map.json,vocab.txt} "$OUT/$m/"
done
[ -d "$OUT/distilbert-base" ] && cat > "$OUT/distilbert-base/config.json" <<'JSON'
{"architectures": ["DistilBertForMaskedLM"], "model_type": "distilbert", "vocab_size": 30522, "dim": 768, "n_layers": 6, "n_heads": 12, "hidden_dim": 3072, "max_position_embeddings": 512, "activation": "gelu", "dropout": 0.1, "attention_dropout": 0.1, "initializer_range": 0.02, "pad_token_id": 0}
JSON
[ -d "$OUT/bert-base" ] && cat > "$OUT/bert-base/config.json" <<'JSON'
{"architectures": ["BertForMaskedLM"], "model_type": "bert", "vocab_size": 30522, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072, "max_position_embeddings": 512, "type_vocab_size": 2, "hidden_act": "gelu", "layer_norm_eps": 1e-12, "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1, "initializer_range": 0.02, "pad_token_id": 0}
JSON

# the per-example token counts as ckpt trains on them (one line, one example; truncation to 128)
first=${MODELS%% *}
"$CKPT" tokenize "$OUT/$first" --file "$CORPUS" --json --threads "$THREADS" |
  "$PYTHON" -c "import json,sys; [print(min(len(json.loads(l)['ids']), 128)) for l in sys.stdin]" > "$OUT/lengths.txt"

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
# seconds (all processes), peak RSS (KiB, the largest process), exit code,
# and the share of all CPUs that other processes used meanwhile. Never fails
# the script.
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

# The pure all-reduce: N floats summed in place between the ranks, in slices
# of 2^24 floats as ckpt does (Sources/Train/OpenMPI.swift), after a barrier.
cat > "$OUT/allreduce.py" <<'PY'
import ctypes, sys, time
lib = ctypes.CDLL("libmpi.so.40", mode=ctypes.RTLD_GLOBAL)
handle = lambda s: ctypes.c_void_p(ctypes.addressof(ctypes.c_char.in_dll(lib, s)))
world, float32, op_sum = handle("ompi_mpi_comm_world"), handle("ompi_mpi_float"), handle("ompi_mpi_op_sum")
lib.MPI_Allreduce.argtypes = [ctypes.c_void_p] * 2 + [ctypes.c_int] + [ctypes.c_void_p] * 3
lib.MPI_Barrier.argtypes = [ctypes.c_void_p]
lib.MPI_Init(None, None)
rank = ctypes.c_int()
lib.MPI_Comm_rank(world, ctypes.byref(rank))
n, reps, piece = int(sys.argv[1]), int(sys.argv[2]), 1 << 24
buf = (ctypes.c_float * n)()
for i in range(0, n, 4096):  # touch every page before timing
    buf[i] = 1.0
base = ctypes.addressof(buf)
for _ in range(reps):
    lib.MPI_Barrier(world)
    t = time.perf_counter()
    for s in range(0, n, piece):
        lib.MPI_Allreduce(ctypes.c_void_p(1), ctypes.c_void_p(base + 4 * s), min(piece, n - s), float32, op_sum, world)
    t = time.perf_counter() - t
    if rank.value == 0:
        print(f'{{"floats": {n}, "seconds": {t:.4f}}}', flush=True)
lib.MPI_Finalize()
PY

TRAIN=(train --corpus "$CORPUS" --max-length 128 --batch-size 8 --max-steps "$STEPS" --logging-steps 1 --no-shuffle --seed 42)
for m in $MODELS; do
  for round in $(seq "$ROUNDS"); do
    rm -rf "$OUT/run-$m-np1" "$OUT/run-$m-np$NP"
    measure "$m-np1-$round" "$CKPT" "${TRAIN[@]}" --model "$OUT/$m/config.json" --out "$OUT/run-$m-np1" \
      --grad-accum "$NP" --threads "$THREADS"
    measure "$m-np$NP-$round" "${MPI[@]}" "$CKPT" "${TRAIN[@]}" --model "$OUT/$m/config.json" --out "$OUT/run-$m-np$NP" \
      --grad-accum 1 --threads "$RANK_THREADS"
    for side in np1 "np$NP"; do
      cp "$OUT/run-$m-$side/metrics.jsonl" "$LOGS/$m-$side-$round.metrics.jsonl" 2>/dev/null || true
    done
    a=$OUT/run-$m-np1/final/model.safetensors b=$OUT/run-$m-np$NP/final/model.safetensors
    if [ -f "$a" ] && [ -f "$b" ]; then
      if cmp "$a" "$b" > "$LOGS/$m-cmp-$round.txt" 2>&1; then echo identical > "$LOGS/$m-cmp-$round.txt"; fi
    else
      echo "missing final model" > "$LOGS/$m-cmp-$round.txt"
    fi
    echo "$m round $round: final weights $(cat "$LOGS/$m-cmp-$round.txt")" >&2
  done
  # the floats ckpt all-reduces: every parameter tensor (tied ones once), as saved
  "$PYTHON" -c "
import json, math, struct, sys
f = open(sys.argv[1], 'rb'); h = json.loads(f.read(struct.unpack('<Q', f.read(8))[0])); h.pop('__metadata__', None)
print(sum(math.prod(v['shape']) for v in h.values()))" "$OUT/run-$m-np1/final/model.safetensors" > "$OUT/$m.params" || true
  [ -s "$OUT/$m.params" ] && measure "$m-raw-allreduce" "${MPI[@]}" "$PYTHON" "$OUT/allreduce.py" "$(cat "$OUT/$m.params")" "$RAW_REPS"
done

# --- table --------------------------------------------------------------------
"$PYTHON" - "$OUT" "$LOGS" "$MODELS" "$ROUNDS" "$WARMUP" "$STEPS" "$THREADS" "$NP" <<'PY' | tee "$OUT/results.md"
import json, os, sys
out, logs, models, rounds, W, S, threads, np_ = sys.argv[1:]
models, rounds, W, S, threads, np_ = models.split(), int(rounds), int(W), int(S), int(threads), int(np_)
T = S - W
lengths = [int(x) for x in open(f"{out}/lengths.txt")]
G = 8 * np_  # sequences per step
cum = [0]
for k in range(S):
    cum.append(cum[-1] + sum(lengths[G * k:G * (k + 1)]))


def load(name):
    try:
        t = json.load(open(f"{logs}/{name}.time"))
    except (OSError, ValueError):
        return None
    return t if t["rc"] == 0 else None


def timed(name):
    """s/step, tokens/s and mean all-reduce s/step over steps W+1 ... S."""
    t = load(name)
    try:
        rows = {j["step"]: j for j in map(json.loads, open(f"{logs}/{name}.metrics.jsonl")) if "tokens_per_s" in j}
    except OSError:
        return None
    if not t or S not in rows or (W and W not in rows):
        return None
    el = lambda k: cum[k] / rows[k]["tokens_per_s"] if k else 0.0
    secs = el(S) - el(W)
    r = {"step_s": secs / T, "tps": (cum[S] - cum[W]) / secs, "run": t, "last_tps": rows[S]["tokens_per_s"],
         "loss": rows[S]["loss"]}
    if "allreduce_s" in rows[S]:
        a = lambda k: rows[k]["allreduce_s"] * k if k else 0.0
        r["ar_s"] = (a(S) - a(W)) / T
        # each step's own all-reduce time; the shortest one is where rank 0 waited least
        r["ar_min_s"] = min(a(k) - a(k - 1) for k in range(W + 1, S + 1))
        r["ar_all_s"] = rows[S]["allreduce_s"]
    return r


def flag(*runs):
    o = max((r["others_cpu_share"] for r in runs if r), default=0)
    return f" (other processes: {100 * o:.0f} % of the CPU)" if o > 0.05 else ""


print(f"## Data-parallel masked-LM training: 1 process × {threads} threads against `mpirun -np {np_}` × {threads // np_} "
      f"thread{'s' if threads // np_ > 1 else ''}\n")
print(f"Global batch {G} sequences a step on both sides (1 × --grad-accum {np_} against {np_} × --grad-accum 1, "
      f"micro-batches of 8), max length 128, {T} timed steps after {W}.\n")
print(f"| model | parameters | 1 process s/step | 1 process tokens/s | np {np_} s/step | np {np_} tokens/s | "
      f"np {np_} / 1 process | all-reduce s/step (np {np_}) | share of the step | implied bandwidth | shortest step's all-reduce s | "
      f"pure MPI_Allreduce s | its bandwidth | final weights |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
notes, walls = [], []
for m in models:
    try:
        params = int(open(f"{out}/{m}.params").read())
    except (OSError, ValueError):
        params = None
    best = {}
    for side in ("np1", f"np{np_}"):
        for r in range(1, rounds + 1):
            x = timed(f"{m}-{side}-{r}")
            if x and (side not in best or x["step_s"] < best[side]["step_s"]):
                best[side] = x
    one, many = best.get("np1"), best.get(f"np{np_}")
    cmps = [open(f"{logs}/{m}-cmp-{r}.txt").read().strip() for r in range(1, rounds + 1) if os.path.exists(f"{logs}/{m}-cmp-{r}.txt")]
    ident = ("**byte-identical**" if cmps and all(c == "identical" for c in cmps)
             else "**DIFFER**: " + "; ".join(cmps) if cmps else "–")
    raw = None
    try:
        raw = min(json.loads(l)["seconds"] for l in open(f"{logs}/{m}-raw-allreduce.out") if l.strip())
    except (OSError, ValueError):
        pass
    gb = lambda s: f"{4 * params / s / 1e9:.2f} GB/s" if params and s else "–"
    c1 = f"{one['step_s']:.3f} | {one['tps']:,.0f}" if one else "FAILED | –"
    c2 = f"{many['step_s']:.3f} | {many['tps']:,.0f}" if many else "FAILED | –"
    ratio = f"**{many['tps'] / one['tps']:.2f}**" if one and many else "–"
    ar = (f"{many['ar_s']:.3f} | {100 * many['ar_s'] / many['step_s']:.0f} % | {gb(many['ar_s'])} | "
          f"{many['ar_min_s']:.3f} ({gb(many['ar_min_s'])})" if many and "ar_s" in many else "– | – | – | –")
    rw = f"{raw:.3f} | {gb(raw)}" if raw else "– | –"
    pm = f"{params / 1e6:.1f} M ({4 * params / 1e6:,.0f} MB)" if params else "?"
    print(f"| {m}{flag(one and one['run'], many and many['run'])} | {pm} | {c1} | {c2} | {ratio} | {ar} | {rw} | {ident} |")
    if one and many:
        walls.append(f"| {m} | {one['run']['wall_s']:.1f} s / {one['run']['peak_rss_kb'] / 1024:,.0f} MiB | "
                     f"{many['run']['wall_s']:.1f} s / {many['run']['peak_rss_kb'] / 1024:,.0f} MiB | "
                     f"{one['last_tps']:,.0f} | {many['last_tps']:,.0f} | "
                     f"{many['ar_all_s']:.3f} | {one['loss']:.4f} / {many['loss']:.4f} |")
# how unevenly the two micro-batches of a step share the tokens (rank r trains on micro-batch r)
if np_ > 1:
    waits = []
    for k in range(W, S):
        per = [sum(lengths[G * k + 8 * r:G * k + 8 * (r + 1)]) for r in range(np_)]
        waits.append((max(per) - min(per)) / max(per))
    notes.append(f"the ranks' micro-batches of a timed step differ by {100 * sum(waits) / len(waits):.0f} % of the larger one's "
                 f"real tokens on average (up to {100 * max(waits):.0f} %). allreduce_s is rank 0's clock and starts "
                 "without a barrier: it includes rank 0's wait for a slower rank 1 (not the reverse); the shortest step's "
                 "all-reduce is the nearest to the communication alone, the pure MPI_Allreduce (after a barrier, best of "
                 "its repetitions) is the communication alone.")
notes.append(f"{cum[S] - cum[W]:,} real tokens in the timed steps ({cum[S]:,} in all {S}); implied bandwidth = 4 bytes × parameters / s "
             "(algorithm bandwidth); parameters: the tensors of the saved model (tied weights once).")
print()
print("| model | 1 process wall / peak RSS | np wall / peak RSS (largest rank) | 1 process last tokens/s | np last tokens/s | "
      "np all-reduce s/step, all steps | final loss 1 process / np |")
print("|---|---:|---:|---:|---:|---:|---:|")
for w in walls:
    print(w)
print()
for n in notes:
    print(f"- {n}")
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
flags = next((l for l in open("/proc/cpuinfo") if l.startswith("flags")), "")
print(f"\nCPU: {cpu}, {os.cpu_count()} cores, AVX-512: {'yes' if ' avx512f' in flags else 'no'}.")
PY
echo "ckpt $("$CKPT" --version); $("$MPIRUN" --version | head -1)" | tee -a "$OUT/results.md"
