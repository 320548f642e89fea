"""PyTorch eager forward throughput for a config (random weights), same batch,
length and thread count as `ckpt bench forward`: best of N timed batches after
one warm-up, in float32 under torch.inference_mode()."""
import argparse, json, time

import torch
from transformers import AutoConfig, AutoModel

ap = argparse.ArgumentParser()
ap.add_argument("config")
ap.add_argument("--batch", type=int, default=8)
ap.add_argument("--seq", type=int, default=128)
ap.add_argument("--iterations", type=int, default=5)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--attn", default="eager")
ap.add_argument("--bf16", action="store_true", help="CPU autocast to bfloat16")
a = ap.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)
cfg = AutoConfig.from_pretrained(a.config)
model = AutoModel.from_config(cfg, attn_implementation=a.attn).eval()
V = cfg.vocab_size
ids = (torch.arange(a.batch * a.seq) * 7919 % V).reshape(a.batch, a.seq)
with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.bf16):
    model(input_ids=ids)
    best = 1e9
    for _ in range(a.iterations):
        t = time.perf_counter(); model(input_ids=ids); best = min(best, time.perf_counter() - t)
print(json.dumps({"tokens_per_s": a.batch * a.seq / best, "attn": a.attn, "threads": torch.get_num_threads(),
                  "torch": torch.__version__, "model": type(model).__name__, "bf16": a.bf16}))
