#!/usr/bin/env bash
# `make fuzz`: each harness under libFuzzer (with address sanitizer) for SECONDS,
# starting from its committed seeds, with the resource contract of
# docs/fuzzing.md enforced. Output in fuzz-out/:
#   corpus/<harness>/    the growing corpus (kept between runs)
#   crashes/<harness>/   crashing, leaking, timing-out or over-allocating inputs
#   logs/<harness>.log   libFuzzer's log
# and a summary table on stdout. Exit status 1 when any harness found something.
# Usage: tools/fuzz/run.sh SECONDS HARNESS...
set -uo pipefail
cd "$(dirname "$0")/../.."
SECONDS_EACH=$1; shift
BIN=.build-fuzz/release/ckpt-fuzz
OUT=fuzz-out
SEEDS=Tests/Fixtures/fuzz/seeds
export CKPT_FUZZ_FIXTURES=$PWD/Tests/Fixtures
# Leaks of third-party libraries (libhdf5's error paths) are not findings; ckpt's are.
export LSAN_OPTIONS="suppressions=$PWD/tools/sanitizers/lsan.supp:print_suppressions=0 ${LSAN_OPTIONS:-}"
dict() {
  case $1 in
    safetensors) echo tools/fuzz/safetensors.dict ;;
    pytorch) echo tools/fuzz/pickle.dict ;;
    tokenizer-json) echo tools/fuzz/tokenizer.dict ;;
    shard-index|json|config|trainer-state|corpus|labelled|vocab-txt) echo tools/fuzz/json.dict ;;
    *) echo "" ;;
  esac
}
found=0
printf '| harness | seconds | executions | exec/s | coverage (edges) | features | corpus | findings |\n|---|---:|---:|---:|---:|---:|---:|---:|\n'
for h in "$@"; do
  mkdir -p "$OUT/corpus/$h" "$OUT/crashes/$h" "$OUT/logs"
  # The harness's scratch directory: a run that ends on a finding exits
  # without removing it, so it lives here and goes after the run.
  export TMPDIR=$PWD/$OUT/tmp/$h
  rm -rf "$TMPDIR"; mkdir -p "$TMPDIR"
  d=$(dict "$h")
  # -malloc_limit_mb: no single allocation above 256 MiB (inputs are at most
  # -max_len bytes, so no tensor they declare and really hold comes near);
  # -rss_limit_mb: 2 GiB in all; -timeout: 10 s per input.
  "$BIN" "$h" "$OUT/corpus/$h" "$SEEDS/$h" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
    -malloc_limit_mb=256 -max_len=131072 -print_final_stats=1 -artifact_prefix="$OUT/crashes/$h/" \
    ${d:+-dict=$d} > "$OUT/logs/$h.log" 2>&1
  status=$?
  rm -rf "$TMPDIR"
  last=$(grep -E "^#[0-9]+.*(DONE|cov:)" "$OUT/logs/$h.log" | tail -1)
  runs=$(grep -oE "stat::number_of_executed_units: *[0-9]+" "$OUT/logs/$h.log" | grep -oE "[0-9]+$" || echo 0)
  speed=$(grep -oE "stat::average_exec_per_sec: *[0-9]+" "$OUT/logs/$h.log" | grep -oE "[0-9]+$" || echo 0)
  cov=$(echo "$last" | grep -oE "cov: [0-9]+" | grep -oE "[0-9]+" || echo ?)
  ft=$(echo "$last" | grep -oE "ft: [0-9]+" | grep -oE "[0-9]+" || echo ?)
  corp=$(echo "$last" | grep -oE "corp: [0-9]+" | grep -oE "[0-9]+" || echo ?)
  findings=$(find "$OUT/crashes/$h" -type f | wc -l)
  [ "$status" -ne 0 ] || [ "$findings" -gt 0 ] && found=1
  printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$h" "$SECONDS_EACH" "${runs:-0}" "${speed:-0}" "$cov" "$ft" "$corp" "$findings"
done
[ "$found" -eq 0 ] || { echo "findings in $OUT/crashes/ (replay: .build/release/ckpt-fuzz HARNESS FILE)"; exit 1; }
