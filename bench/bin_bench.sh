#!/usr/bin/env bash
# Converting a BERT-base-sized PyTorch .bin (torch.save zip format) to
# safetensors: ckpt convert vs torch.load(weights_only=True) + safetensors
# save_file. Wall time (best of 3) and peak RSS; outputs deleted and synced
# between runs; files page-cache warm.
set -euo pipefail
cd "$(dirname "$0")/.."
CKPT=.build-bench/release/ckpt
swift build -c release --scratch-path .build-bench >/dev/null
OUT=bench/out/bin; mkdir -p "$OUT"
[ -f bench/out/bert-base/model.safetensors ] || python3 bench/make_bert_base.py bench/out/bert-base
if [ ! -f "$OUT/pytorch_model.bin" ]; then
  python3 -c "
import torch
from safetensors.torch import load_file
torch.save(load_file('bench/out/bert-base/model.safetensors'), '$OUT/pytorch_model.bin')"
fi
cat > "$OUT/py_convert.py" <<'PY'
import sys, os, torch
from safetensors.torch import save_file
sd = torch.load(sys.argv[1], weights_only=True)
save_file({k: v.contiguous() for k, v in sd.items()}, sys.argv[2], metadata={"format": "pt"})
fd = os.open(sys.argv[2], os.O_RDONLY); os.fsync(fd); os.close(fd)
PY
run() {  # label, command...
  local best=999 rss=0
  for i in 0 1 2 3; do
    rm -f "$OUT/out.safetensors"; sync
    /usr/bin/time -o "$OUT/time.txt" -f "%e %M" "${@:2}" >/dev/null 2>&1
    local r; r=$(tail -1 "$OUT/time.txt")
    [ $i -eq 0 ] && continue
    best=$(python3 -c "print(min($best, ${r% *}))"); rss=$(python3 -c "print(max($rss, ${r#* }))")
  done
  printf '| %s | %.3f s | %.1f MiB |\n' "$1" "$best" "$(python3 -c "print($rss/1024)")"
}
echo "| conversion of $(du -m "$OUT/pytorch_model.bin" | cut -f1) MB .bin | wall time | peak RSS |"
echo "|---|---:|---:|"
run "ckpt convert (fsynced)" "$CKPT" convert "$OUT/pytorch_model.bin" "$OUT/out.safetensors" --force
run "torch.load(weights_only=True) + save_file (+ fsync)" env OMP_NUM_THREADS=2 python3 "$OUT/py_convert.py" "$OUT/pytorch_model.bin" "$OUT/out.safetensors"
"$CKPT" convert "$OUT/pytorch_model.bin" "$OUT/out.safetensors" --force >/dev/null
cmp -s "$OUT/out.safetensors" bench/out/bert-base/model.safetensors && echo "ckpt's output is byte-identical to the original safetensors file" || echo "outputs differ"
