#!/usr/bin/env bash
# Every matrix-product path on this CPU, side by side with PyTorch eager on the
# same cores: forward (base encoders, batch 8 x 128, best of 5 batches) and
# masked-LM training (STEPS timed steps after a warm-up, mean), DistilBERT-base
# and BERT-base, random weights, best of ROUNDS alternating rounds.
#
#   fp32, ckpt's default kernel   vs  PyTorch fp32
#   fp32, CKPT_SGEMM=avx2         vs  PyTorch restricted to AVX2
#                                     (ATEN_CPU_CAPABILITY=avx2, MKL_ENABLE_INSTRUCTIONS=AVX2,
#                                      ONEDNN_MAX_CPU_ISA=AVX2)
#   --precision bf16              vs  PyTorch bf16 CPU autocast
#
# Also the CPU's measured FMA peak (bench/fma_peak.c) and each kernel's 1024³
# product, for the fraction of peak each path reaches.
set -euo pipefail
cd "$(dirname "$0")/.."
CKPT=${CKPT:-.build-bench/release/ckpt}
PY=${PYTHON:-python3}
THREADS=${THREADS:-2}
STEPS=${STEPS:-3}
ROUNDS=${ROUNDS:-2}
[ "$CKPT" = .build-bench/release/ckpt ] && swift build -c release --scratch-path .build-bench >/dev/null
OUT=bench/out/kernels; mkdir -p "$OUT"
${CC:-clang} -O2 -pthread bench/fma_peak.c -o "$OUT/fma_peak"
# The forward runs the base encoder (no head) as bench/forward_bench.sh does,
# training the masked-LM model as bench/train_bench.sh does: their configs.
for m in bert-base distilbert-base; do
  mkdir -p "$OUT/fwd-$m" "$OUT/train-$m"
  grep -A1 "OUT/$m/config.json" bench/forward_bench.sh | sed -n 2p > "$OUT/fwd-$m/config.json"
  grep -A1 "OUT/$m/config.json" bench/train_bench.sh | sed -n 2p > "$OUT/train-$m/config.json"
done
grep -m1 "model name" /proc/cpuinfo | sed 's/.*: /CPU: /'
echo "flags: $(grep -m1 flags /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx2|fma|avx512f|avx512_bf16|amx_bf16)$' | tr '\n' ' ')"
"$OUT/fma_peak" "$THREADS"
"$CKPT" bench sgemm --threads "$THREADS" --iterations 10
echo
field() { $PY -c "import json,sys; print(json.loads(sys.argv[1]).get(sys.argv[2], 0))" "$1" "$2"; }
max() { $PY -c "import sys; print(max(float(sys.argv[1]), float(sys.argv[2])))" "$1" "$2"; }
AVX2_ENV="ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2 ONEDNN_MAX_CPU_ISA=AVX2"
declare -A R G
run() {  # key, then the command
  local key=$1; shift
  local out; out=$("$@" 2>/dev/null | tail -1)
  R[$key]=$(max "${R[$key]:-0}" "$(field "$out" tokens_per_s)")
  local g; g=$(field "$out" gflop_per_s); G[$key]=$(max "${G[$key]:-0}" "$g")
}
for m in distilbert-base bert-base; do
  fwd="$OUT/fwd-$m" train="$OUT/train-$m"
  for round in $(seq "$ROUNDS"); do
    run "$m fwd ckpt" "$CKPT" bench forward "$fwd/config.json" --threads "$THREADS" --json
    run "$m fwd avx2" env CKPT_SGEMM=avx2 "$CKPT" bench forward "$fwd/config.json" --threads "$THREADS" --json
    run "$m fwd bf16" "$CKPT" bench forward "$fwd/config.json" --threads "$THREADS" --json --precision bf16
    run "$m fwd torch" $PY -W ignore bench/torch_forward.py "$fwd" --threads "$THREADS"
    run "$m fwd torch-avx2" env $AVX2_ENV $PY -W ignore bench/torch_forward.py "$fwd" --threads "$THREADS"
    run "$m fwd torch-bf16" $PY -W ignore bench/torch_forward.py "$fwd" --threads "$THREADS" --bf16
    run "$m train ckpt" "$CKPT" bench train "$train/config.json" --threads "$THREADS" --steps "$STEPS" --json
    run "$m train avx2" env CKPT_SGEMM=avx2 "$CKPT" bench train "$train/config.json" --threads "$THREADS" --steps "$STEPS" --json
    run "$m train bf16" "$CKPT" bench train "$train/config.json" --threads "$THREADS" --steps "$STEPS" --json --precision bf16
    run "$m train torch" $PY -W ignore bench/torch_train.py "$train" --threads "$THREADS" --steps "$STEPS" --json
    run "$m train torch-avx2" env $AVX2_ENV $PY -W ignore bench/torch_train.py "$train" --threads "$THREADS" --steps "$STEPS" --json
    run "$m train torch-bf16" $PY -W ignore bench/torch_train.py "$train" --threads "$THREADS" --steps "$STEPS" --json --bf16
  done
done
echo "| model | run | path | ckpt tokens/s | ckpt GFLOP/s | PyTorch tokens/s | ratio |"
echo "|---|---|---|---:|---:|---:|---:|"
for m in distilbert-base bert-base; do
  for run in fwd train; do
    for path in "ckpt torch fp32 (default kernel)" "avx2 torch-avx2 fp32, AVX2 only" "bf16 torch-bf16 bf16"; do
      set -- $path; c=$1; t=$2; shift 2
      $PY -c "c=${R[$m $run $c]}; t=${R[$m $run $t]}; print(f'| $m | $run | $* | {c:.0f} | {${G[$m $run $c]}:.0f} | {t:.0f} | {c/t:.2f} |')"
    done
  done
done
