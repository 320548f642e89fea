#!/usr/bin/env bash
# RoBERTa family: ckpt against PyTorch / transformers / Hugging Face tokenizers.
#
#  1. Forward tokens/s, RoBERTa-base (random weights; vocab 50,265, 12 × 768,
#     12 heads, 3,072, 514 positions, type vocab 1, pad id 1, eps 1e-5) and
#     BERT-base for reference: `ckpt bench forward CONFIG` against
#     bench/torch_forward.py (AutoModel → RobertaModel / BertModel, eager),
#     encoder without the MLM head, batch 8 × 128, best of 5 batches after a
#     warm-up, two alternating rounds (as bench/forward_bench.sh).
#  2. Masked-LM training tokens/s, RoBERTa-base and BERT-base with the MLM head:
#     `ckpt bench train` against bench/torch_train.py (as bench/train_bench.sh).
#  3. Tokenization MB/s of XLM-R-style Unigram tokenizers (bench/make_unigram_tokenizer.py:
#     SentencePiece unigram, nmt_nfkc, trained on this machine's gettext catalogs
#     (bench/make_multilingual_corpus.py) + the English corpus, converted with
#     transformers' XLMRobertaConverter): 64,002 ids; the same with 186,000
#     synthetic low-score pieces appended (250,002 ids, XLM-R's size); one trained
#     at 250,000 pieces (250,002 ids). On the English corpus
#     (bench/make_text_corpus.py, 5 MB) and a 5 MB multilingual sample.
#     `ckpt tokenize --file --stats` (1 and 2 threads, best of 3) against
#     bench/hf_tokenize.py (as bench/tokenize_bench.sh); tokenizer.json load times.
#  4. trim-vocab of an XLM-R-base-sized XLMRobertaForMaskedLM (250,002 ids, random
#     weights, save_pretrained) with the synthetic 250,002-id tokenizer, on 3 MB of
#     the English and of the multilingual corpus: `ckpt trim-vocab --threads N`
#     against bench/hf_trim_vocab.py; wall time and peak RSS (/usr/bin/time),
#     best of 3; then bench/roberta_trim_check.py.
#
# Everything generated goes to bench/out/roberta/ and is reused when present.
# CKPT= names a release binary (default: built into .build-bench); PY= a Python
# with torch, transformers, tokenizers and sentencepiece (default python3).
#   CKPT=.build/release/ckpt PY=python3 bash bench/roberta_bench.sh
# SECTIONS="forward train tokenize trim" (default: all), THREADS=2, STEPS=5.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${CKPT:-}" ]; then
  echo "building ckpt (release, .build-bench)" >&2
  swift build -c release --scratch-path .build-bench >/dev/null
  CKPT=.build-bench/release/ckpt
fi
PY=${PY:-python3}
THREADS=${THREADS:-2}
STEPS=${STEPS:-5}
SECTIONS=${SECTIONS:-forward train tokenize trim}
OUT=bench/out/roberta
mkdir -p "$OUT"
[ -x "$CKPT" ] || { echo "no ckpt binary at $CKPT: build it (swift build -c release --scratch-path .build-bench) or set CKPT=" >&2; exit 1; }
"$PY" -c "import torch, transformers, tokenizers, sentencepiece" 2>/dev/null ||
  { echo "$PY lacks torch/transformers/tokenizers/sentencepiece: set PY=" >&2; exit 1; }
has() { [[ " $SECTIONS " == *" $1 "* ]]; }
jget() { "$PY" -c "import json,sys; print(json.loads(sys.argv[1]).get(sys.argv[2], 0))" "$1" "$2"; }
gt() { "$PY" -c "import sys; sys.exit(0 if $1 > $2 else 1)"; }

echo "## Machine"
echo
echo "- CPU: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores; avx512f: $(grep -qw avx512f /proc/cpuinfo && echo yes || echo no)"
echo "- ckpt $("$CKPT" --version) ($CKPT); $("$PY" -c "import torch, transformers, tokenizers, sentencepiece as s; print(f'torch {torch.__version__}, transformers {transformers.__version__}, tokenizers {tokenizers.__version__}, sentencepiece {s.__version__}')")"
echo "- threads: $THREADS on both sides; OpenBLAS core type: ${OPENBLAS_CORETYPE:-auto}; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

# ---------------------------------------------------------------- 1. forward
if has forward; then
  F=$OUT/forward; mkdir -p "$F/bert-base" "$F/roberta-base"
  cat > "$F/bert-base/config.json" <<'JSON'
{"architectures": ["BertModel"], "model_type": "bert", "vocab_size": 30522, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072, "max_position_embeddings": 512, "type_vocab_size": 2, "hidden_act": "gelu", "layer_norm_eps": 1e-12, "initializer_range": 0.02}
JSON
  cat > "$F/roberta-base/config.json" <<'JSON'
{"architectures": ["RobertaModel"], "model_type": "roberta", "vocab_size": 50265, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072, "max_position_embeddings": 514, "type_vocab_size": 1, "hidden_act": "gelu", "layer_norm_eps": 1e-05, "initializer_range": 0.02, "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2}
JSON
  echo "## 1. Forward pass (batch 8 × 128, $THREADS threads, best of 5 batches, 2 alternating rounds)"
  echo
  echo "| model | ckpt tokens/s | ckpt GFLOP/s | ckpt with OpenBLAS sgemm tokens/s | PyTorch eager tokens/s | PyTorch class | ratio |"
  echo "|---|---:|---:|---:|---:|---|---:|"
  for m in bert-base roberta-base; do
    c=0; g=0; o=0; p=0; cls=?
    for round in 1 2; do
      r=$("$CKPT" bench forward "$F/$m/config.json" --batch 8 --seq 128 --iterations 5 --threads "$THREADS" --json)
      echo "$r" > "$F/$m-ckpt-$round.json"
      gt "$(jget "$r" tokens_per_s)" "$c" && { c=$(jget "$r" tokens_per_s); g=$(jget "$r" gflop_per_s); }
      r=$(CKPT_SGEMM=openblas "$CKPT" bench forward "$F/$m/config.json" --batch 8 --seq 128 --iterations 5 --threads "$THREADS" --json)
      gt "$(jget "$r" tokens_per_s)" "$o" && o=$(jget "$r" tokens_per_s)
      t=$("$PY" -W ignore bench/torch_forward.py "$F/$m" --batch 8 --seq 128 --iterations 5 --threads "$THREADS" 2>/dev/null | tail -1)
      echo "$t" > "$F/$m-torch-$round.json"
      gt "$(jget "$t" tokens_per_s)" "$p" && p=$(jget "$t" tokens_per_s)
      cls=$(jget "$t" model)
    done
    "$PY" -c "print(f'| $m | {$c:,.0f} | {$g:,.0f} | {$o:,.0f} | {$p:,.0f} | $cls | {$c/$p:.2f} |')"
  done
  echo
  echo "sgemm peak (1024³, $THREADS threads): $("$CKPT" bench sgemm --threads "$THREADS" --json)"
  echo
fi

# ---------------------------------------------------------------- 2. training
if has train; then
  T=$OUT/train; mkdir -p "$T/bert-base" "$T/roberta-base"
  cat > "$T/bert-base/config.json" <<'JSON'
{"architectures": ["BertForMaskedLM"], "model_type": "bert", "vocab_size": 30522, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072, "max_position_embeddings": 512, "type_vocab_size": 2, "hidden_act": "gelu", "layer_norm_eps": 1e-12, "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1, "initializer_range": 0.02}
JSON
  cat > "$T/roberta-base/config.json" <<'JSON'
{"architectures": ["RobertaForMaskedLM"], "model_type": "roberta", "vocab_size": 50265, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072, "max_position_embeddings": 514, "type_vocab_size": 1, "hidden_act": "gelu", "layer_norm_eps": 1e-05, "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1, "initializer_range": 0.02, "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2, "tie_word_embeddings": true}
JSON
  echo "## 2. Masked-LM training (batch 8 × 128, 15 % masking, dropout 0.1, AdamW, $THREADS threads, mean of $STEPS steps after 1, best of 2 alternating rounds)"
  echo
  echo "| model | ckpt tokens/s | ckpt GFLOP/s | ckpt peak RSS | PyTorch tokens/s | PyTorch peak RSS | ratio |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  for m in bert-base roberta-base; do
    c=0; g=0; cr=0; p=0; pr=0
    for round in 1 2; do
      r=$("$CKPT" bench train "$T/$m/config.json" --batch 8 --seq 128 --mlm-probability 0.15 --steps "$STEPS" --threads "$THREADS" --json)
      echo "$r" > "$T/$m-ckpt-$round.json"
      if gt "$(jget "$r" tokens_per_s)" "$c"; then c=$(jget "$r" tokens_per_s); g=$(jget "$r" gflop_per_s); cr=$(jget "$r" peak_rss_mb); fi
      t=$("$PY" -W ignore bench/torch_train.py "$T/$m" --batch 8 --seq 128 --mlm-probability 0.15 --steps "$STEPS" --threads "$THREADS" --json 2>/dev/null | tail -1)
      echo "$t" > "$T/$m-torch-$round.json"
      if gt "$(jget "$t" tokens_per_s)" "$p"; then p=$(jget "$t" tokens_per_s); pr=$(jget "$t" peak_rss_mb); fi
    done
    "$PY" -c "print(f'| $m | {$c:,.0f} | {$g:,.0f} | {$cr:,.0f} MiB | {$p:,.0f} | {$pr:,.0f} MiB | {$c/$p:.2f} |')"
  done
  echo
fi

# ---------------------------------------------------------------- corpora and tokenizers
if has tokenize || has trim; then
  if [ ! -f "$OUT/en-5mb.txt" ]; then
    python3 -W ignore bench/make_text_corpus.py "$OUT/en-5mb.txt" 5000000   # as tokenize_bench.sh (python3: the corpus depends on the interpreter's modules)
  fi
  if [ ! -f "$OUT/ml-5mb.txt" ] || [ ! -f "$OUT/corpus-info.json" ]; then
    "$PY" bench/make_multilingual_corpus.py "$OUT/ml-all.txt" "$OUT/ml-5mb.txt" 5000000 > "$OUT/corpus-info.json"
  fi
  TOK=$OUT/tok
  if [ ! -f "$TOK/xlmr-64k-synth250k/tokenizer.json" ]; then
    "$PY" bench/make_unigram_tokenizer.py "$TOK" 64000 "$OUT/ml-all.txt" "$OUT/en-5mb.txt" --name xlmr-64k \
      --grow-to 250002 --grow-text "$OUT/ml-all.txt" --grow-name xlmr-64k-synth250k > "$OUT/tok-64k.json" 2> "$OUT/tok-64k.log"
  fi
  if [ ! -f "$TOK/xlmr-250k/tokenizer.json" ]; then
    "$PY" bench/make_unigram_tokenizer.py "$TOK" 250000 "$OUT/ml-all.txt" "$OUT/en-5mb.txt" --name xlmr-250k > "$OUT/tok-250k.json" 2> "$OUT/tok-250k.log"
  fi
  echo "## Corpora and tokenizers"
  echo
  echo "- English: $(wc -l < "$OUT/en-5mb.txt") lines, $(stat -c %s "$OUT/en-5mb.txt") bytes (bench/make_text_corpus.py: Python standard-library docstrings, $(sort -u "$OUT/en-5mb.txt" | wc -c) bytes of distinct lines, repeated)"
  echo "- Multilingual: $OUT/ml-5mb.txt, $(wc -l < "$OUT/ml-5mb.txt") lines, $(stat -c %s "$OUT/ml-5mb.txt") bytes, sampled from all distinct translated strings of the machine's gettext catalogs: $(cat "$OUT/corpus-info.json")"
  for f in "$OUT/tok-64k.json" "$OUT/tok-250k.json"; do [ -f "$f" ] && echo "- $(basename "$f" .json): $(cat "$f")"; done
  echo
fi

# ---------------------------------------------------------------- 3. tokenization
if has tokenize; then
  echo "## 3. Tokenization (best of 3; ckpt: encoding of all lines after reading the file; HF: the encode_batch call or the encode loop)"
  echo
  echo "| tokenizer | corpus | run | threads | MB/s | tokens |"
  echo "|---|---|---|---:|---:|---:|"
  summary=()
  for tk in xlmr-64k xlmr-64k-synth250k xlmr-250k; do
    for cn in en ml; do
      corpus=$OUT/$cn-5mb.txt
      c1=0; c2=0
      for t in 1 2; do
        best=0; tokens=0
        for i in 1 2 3; do
          r=$("$CKPT" tokenize "$TOK/$tk/tokenizer.json" --file "$corpus" --stats --threads $t)
          tokens=$(jget "$r" tokens)
          gt "$(jget "$r" mb_per_s)" "$best" && best=$(jget "$r" mb_per_s)
        done
        printf '| %s | %s | ckpt tokenize --file | %d | %.2f | %s |\n' "$tk" "$cn" $t "$best" "$tokens"
        if [ $t = 1 ]; then c1=$best; else c2=$best; fi
      done
      hf=$("$PY" -W ignore bench/hf_tokenize.py "$TOK/$tk/tokenizer.json" "$corpus" 2>/dev/null)
      echo "$hf" | sed "s/^| /| $tk | $cn | /"
      h1b=$(echo "$hf" | awk -F'|' '/encode_batch/ && $3+0==1 {print $4+0}')
      h1l=$(echo "$hf" | awk -F'|' '/one text at a time/ {print $4+0}')
      h2=$(echo "$hf" | awk -F'|' '/encode_batch/ && $3+0==2 {print $4+0}')
      summary+=("$("$PY" -c "h1=max($h1b,$h1l); print(f'| $tk | $cn | {$c1:.2f} | {h1:.2f} | {$c1/h1:.2f} | {$c2:.2f} | {$h2:.2f} | {$c2/$h2:.2f} |')")")
    done
  done
  echo
  echo "| tokenizer | corpus | ckpt 1 thread | HF best 1 thread | ratio | ckpt 2 threads | HF encode_batch 2 threads | ratio |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|"
  printf '%s\n' "${summary[@]}"
  echo
  echo "Loading tokenizer.json (fresh process each time; best of 5; transformers: best of 3)"
  echo
  echo "| tokenizer | ids | tokenizer.json | ckpt (load_seconds) | HF Tokenizer.from_file | transformers AutoTokenizer.from_pretrained |"
  echo "|---|---:|---:|---:|---:|---:|"
  for tk in xlmr-64k xlmr-64k-synth250k xlmr-250k; do
    j=$TOK/$tk/tokenizer.json
    cl=999; hl=999; al=999
    for i in 1 2 3 4 5; do
      r=$("$CKPT" tokenize "$j" "x" --stats)
      gt "$cl" "$(jget "$r" load_seconds)" && cl=$(jget "$r" load_seconds)
      h=$(RAYON_NUM_THREADS=$THREADS "$PY" -c "import time,sys; from tokenizers import Tokenizer; t=time.perf_counter(); Tokenizer.from_file(sys.argv[1]); print(time.perf_counter()-t)" "$j")
      gt "$hl" "$h" && hl=$h
      if [ $i -le 3 ]; then
        h=$("$PY" -W ignore -c "import time,sys; from transformers import AutoTokenizer; t=time.perf_counter(); AutoTokenizer.from_pretrained(sys.argv[1]); print(time.perf_counter()-t)" "$TOK/$tk" 2>/dev/null)
        gt "$al" "$h" && al=$h
      fi
    done
    ids=$("$PY" -c "import json,sys; print(len(json.load(open(sys.argv[1]))['model']['vocab']))" "$j")
    "$PY" -c "print(f'| $tk | {$ids:,} | {$(stat -c %s "$j")/1e6:.1f} MB | {$cl*1000:.0f} ms | {$hl*1000:.0f} ms | {$al*1000:.0f} ms |')"
  done
  echo
  echo "Same ids on both sides (every line, ckpt --json against HF encode_batch), and what the synthetic pieces change:"
  echo
  "$PY" -W ignore bench/roberta_tokenize_check.py "$CKPT" "$TOK/xlmr-64k" "$TOK/xlmr-64k-synth250k" "$TOK/xlmr-250k" -- \
    "$OUT/en-5mb.txt" "$OUT/ml-5mb.txt" --base "$TOK/xlmr-64k" --grown "$TOK/xlmr-64k-synth250k" 2>/dev/null
  echo
fi

# ---------------------------------------------------------------- 4. trim-vocab
if has trim; then
  M=$OUT/xlmr-base
  if [ ! -f "$M/model.safetensors" ]; then
    "$PY" -W ignore bench/make_xlmr_base.py "$TOK/xlmr-64k-synth250k" "$M" > "$OUT/xlmr-base.log" 2>&1
  fi
  for cn in en ml; do
    [ -f "$OUT/trim-$cn.txt" ] || "$PY" -c "import sys; b=open(sys.argv[1],'rb').read(int(sys.argv[2])); open(sys.argv[3],'wb').write(b[:b.rfind(b'\n')+1])" \
      "$OUT/$cn-5mb.txt" 3000000 "$OUT/trim-$cn.txt"
  done
  best() {  # best wall time (BW) and its peak RSS in MiB (BM) over 3 runs of "$@" (output $1 removed before each)
    local dir=$1 w m; shift
    BW=999999; BM=0
    for i in 1 2 3; do
      rm -rf "$dir"
      if ! /usr/bin/time -f "%e %M" -o "$OUT/time" "$@" > "$dir.log" 2>&1; then
        echo; echo "**FAILED**: \`$*\`"; echo; sed 's/^/    /' "$dir.log"; exit 1
      fi
      read w m < "$OUT/time"
      if gt "$BW" "$w"; then BW=$w; BM=$((m / 1024)); fi
    done
  }
  mb() { "$PY" -c "import sys; print(f'{int(sys.argv[1]) / 1e6:,.1f} MB')" "$(du -sb "$1" | cut -f1)"; }
  echo "## 4. trim-vocab, XLM-R-base-sized XLMRobertaForMaskedLM ($(mb "$M/model.safetensors"), 250,002 ids, tied) with the synthetic 250,002-id tokenizer (best of 3, $THREADS threads)"
  echo
  echo "| corpus | run | wall time | peak RSS | vocabulary | model.safetensors | output directory |"
  echo "|---|---|---:|---:|---:|---:|---:|"
  for cn in en ml; do
    corpus=$OUT/trim-$cn.txt
    best "$OUT/trim-$cn-ckpt" "$CKPT" trim-vocab "$M" --corpus "$corpus" --out "$OUT/trim-$cn-ckpt" --threads "$THREADS" --report "$OUT/trim-$cn-ckpt.json"
    rep=$(cat "$OUT/trim-$cn-ckpt.json")
    echo "| $cn, $(mb "$corpus") | \`ckpt trim-vocab\` | $BW s | $BM MiB | $(jget "$rep" old_vocab_size) → $(jget "$rep" new_vocab_size) | $(mb "$OUT/trim-$cn-ckpt/model.safetensors") | $(mb "$OUT/trim-$cn-ckpt") |"
    best "$OUT/trim-$cn-hf" "$PY" -W ignore bench/hf_trim_vocab.py "$M" "$corpus" "$OUT/trim-$cn-hf" --threads "$THREADS"
    rep=$(grep '^{' "$OUT/trim-$cn-hf.log" | tail -1)
    echo "| $cn, $(mb "$corpus") | transformers + tokenizers (bench/hf_trim_vocab.py) | $BW s | $BM MiB | $(jget "$rep" old_vocab_size) → $(jget "$rep" new_vocab_size) | $(mb "$OUT/trim-$cn-hf/model.safetensors") | $(mb "$OUT/trim-$cn-hf") |"
  done
  echo
  for cn in en ml; do
    echo "ckpt's report, $cn:"
    echo
    sed 's/^/    /' "$OUT/trim-$cn-ckpt.log"
    echo
    echo "Checks, $cn:"
    echo
    "$PY" -W ignore bench/roberta_trim_check.py "$M" "$OUT/trim-$cn-ckpt" "$OUT/trim-$cn-hf" "$OUT/trim-$cn.txt" 2>/dev/null
    echo
  done
fi
