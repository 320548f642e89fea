# The deviation of transformers' bf16 CPU autocast from a float golden: the
# max and mean absolute logit error over the real tokens, the number ckpt's
# `verify --precision bf16` is compared with in docs/precision.md.
# Usage: python bench/bf16_autocast_deviation.py Tests/Fixtures/model-goldens/bert-gelu
import torch, sys
from safetensors.torch import load_file
from transformers import AutoModelForMaskedLM
d = sys.argv[1]
g = load_file(d + "/golden.safetensors")
m = AutoModelForMaskedLM.from_pretrained(d, attn_implementation="eager").eval()
inp = {k: g[k] for k in ["input_ids", "attention_mask", "token_type_ids"] if k in g}
with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
    out = m(**inp, output_hidden_states=True)
mask = inp["attention_mask"].bool()
lg = out.logits.float()[mask]; ref = g["logits"][mask] if g["logits"].dim()==3 else g["logits"]

print("autocast logits max abs", (lg - ref).abs().max().item(), "mean", (lg-ref).abs().mean().item())
