#!/usr/bin/env bash
# Source coverage each harness's corpus reaches in the reader it drives: the
# corpus libFuzzer kept (fuzz-out/corpus/<harness>) and the committed seeds are
# replayed through a coverage-instrumented ckpt-fuzz, and llvm-cov reports the
# lines and regions of the reader's files that ran. Those files also hold some
# code no harness reaches (writers, conveniences); see docs/fuzzing.md.
# Usage: tools/fuzz/coverage.sh HARNESS...   (output: a table on stdout)
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=.build-cov
OUT=fuzz-out/coverage
swift build --scratch-path "$BUILD" --product ckpt-fuzz \
  -Xswiftc -profile-generate -Xswiftc -profile-coverage-mapping >&2
BIN=$BUILD/debug/ckpt-fuzz
BIN_DIR=$(dirname "$(readlink -f "$(command -v swift)")")
export CKPT_FUZZ_FIXTURES=$PWD/Tests/Fixtures
files() {
  local f=Sources/Formats t=Sources/Tokenizers
  case $1 in
    safetensors) echo $f/SafeTensors/SafeTensorsFile.swift ;;
    shard-index) echo $f/SafeTensors/ShardedSafeTensors.swift ;;
    pytorch) echo $f/PyTorch/Pickle.swift $f/PyTorch/PyTorchFile.swift $f/PyTorch/Zip.swift ;;
    hdf5) echo $f/HDF5/HDF5Sanitizer.swift $f/HDF5/HDF5Groups.swift $f/HDF5/HDF5Storage.swift $f/HDF5/HDF5Messages.swift $f/HDF5/HDF5Reader.swift $f/HDF5/HDF5Preflight.swift $f/HDF5/HDF5Inflate.swift \
            $f/HDF5/HDF5Store.swift $f/HDF5/HDF5Types.swift ;;
    json) echo $f/JSON/JSONParser.swift ;;
    config) echo $f/HF/ModelConfig.swift Sources/Model/EncoderConfig.swift ;;
    tokenizer-json) echo $t/TokenizerLoading.swift $t/VocabularyReader.swift $t/Normalizers.swift $t/PreTokenizers.swift \
                      $t/Models.swift $t/Unigram.swift $t/PostProcessor.swift $t/Decoders.swift $t/AddedTokens.swift \
                      $t/Precompiled.swift $t/SimpleRegex.swift $t/Truncation.swift ;;
    vocab-txt) echo $t/TokenizerLoading.swift ;;
    corpus) echo Sources/Train/Corpus.swift Sources/Formats/Text/TextBlocks.swift ;;
    labelled) echo Sources/Tasks/LabelledData.swift Sources/Tasks/CSVReader.swift ;;
    trainer-state) echo Sources/Train/TrainerCheckpoints.swift ;;
    *) echo "unknown harness $1" >&2; exit 64 ;;
  esac
}
mkdir -p "$OUT"
printf '| harness | inputs | lines covered | regions covered | files |\n|---|---:|---:|---:|---|\n'
for h in "$@"; do
  rm -f "$OUT/$h".*.profraw
  dirs=(Tests/Fixtures/fuzz/seeds/$h)
  # A snapshot of the corpus: a fuzzer still running removes files from it.
  rm -rf "$OUT/corpus-$h"
  if [ -d "fuzz-out/corpus/$h" ]; then cp -r "fuzz-out/corpus/$h" "$OUT/corpus-$h" 2>/dev/null || true; dirs+=("$OUT/corpus-$h"); fi
  [ -d "Tests/Fixtures/fuzz/regressions/$h" ] && dirs+=("Tests/Fixtures/fuzz/regressions/$h")
  inputs=$(find "${dirs[@]}" -type f | wc -l)
  LLVM_PROFILE_FILE="$OUT/$h.%p.profraw" "$BIN" "$h" "${dirs[@]}" > "$OUT/$h.replay.log" 2>&1
  "$BIN_DIR/llvm-profdata" merge -sparse "$OUT/$h".*.profraw -o "$OUT/$h.profdata"
  # shellcheck disable=SC2046
  total=$("$BIN_DIR/llvm-cov" report "$BIN" -instr-profile="$OUT/$h.profdata" $(files "$h") | grep '^TOTAL')
  regions=$(echo "$total" | awk '{print $4}')
  lines=$(echo "$total" | awk '{print $10}')
  printf '| %s | %s | %s | %s | %s |\n' "$h" "$inputs" "$lines" "$regions" "$(files "$h" | tr ' ' '\n' | xargs -n1 basename | paste -sd ' ')"
done
