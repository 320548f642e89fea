"""Long-text classification with transformers, as a user writes the loop: the
texts (one a line) through the fast tokenizer with truncation=True,
max_length=L, stride=S, return_overflowing_tokens=True, padding=True (windows
of at most L tokens, [CLS]/[SEP] each, consecutive windows sharing S tokens;
every window padded to the longest), the model in eval mode under
torch.no_grad(), batches of B windows in order, then the mean of each text's
window logits and its softmax. The windows ckpt classify builds.

usage: hf_classify_long.py MODEL_DIR TEXTS [--max-length 512] [--stride 128]
       [--batch-size 8] [--threads 2] [--logits FILE]

Prints one JSON line: seconds to import and load, to tokenize, for the
forward passes and for the whole loop (tokenize + forward + pooling), texts,
windows, real and padded tokens, texts/s and windows/s over the loop, peak
RSS. --logits FILE writes one JSON object per text: mean logits, predicted
label, windows.
"""
import argparse, json, os, resource, time

T0 = time.perf_counter()
ap = argparse.ArgumentParser()
ap.add_argument("model")
ap.add_argument("texts")
ap.add_argument("--max-length", type=int, default=512)
ap.add_argument("--stride", type=int, default=128)
ap.add_argument("--batch-size", type=int, default=8)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--attn", default=None, help="attn_implementation (default: transformers' choice)")
ap.add_argument("--logits", help="write each text's mean logits, label and window count (JSON lines)")
a = ap.parse_args()

os.environ.setdefault("OMP_NUM_THREADS", str(a.threads))
os.environ.setdefault("MKL_NUM_THREADS", str(a.threads))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
import transformers
from transformers import AutoModelForSequenceClassification, AutoTokenizer

torch.set_num_threads(a.threads)
tokenizer = AutoTokenizer.from_pretrained(a.model)
model = AutoModelForSequenceClassification.from_pretrained(a.model, **({"attn_implementation": a.attn} if a.attn else {})).eval()
with open(a.texts, encoding="utf-8") as f:
    texts = [line.rstrip("\n") for line in f if line.strip()]
t_load = time.perf_counter()

enc = tokenizer(texts, truncation=True, max_length=a.max_length, stride=a.stride, return_overflowing_tokens=True,
                padding=True, return_tensors="pt")
owner = enc.pop("overflow_to_sample_mapping")
inputs = {k: v for k, v in enc.items() if k in ("input_ids", "attention_mask", "token_type_ids")
          and (k != "token_type_ids" or model.config.model_type != "distilbert")}
t_tok = time.perf_counter()
n = inputs["input_ids"].shape[0]
parts = []
with torch.no_grad():
    for s in range(0, n, a.batch_size):
        parts.append(model(**{k: v[s:s + a.batch_size] for k, v in inputs.items()}).logits)
logits = torch.cat(parts).double()
t_fwd = time.perf_counter()
C = logits.shape[1]
sums = torch.zeros(len(texts), C, dtype=torch.float64).index_add_(0, owner, logits)
counts = torch.bincount(owner, minlength=len(texts))
mean = sums / counts[:, None]
probs = mean.softmax(-1)
labels = probs.argmax(-1)
t_end = time.perf_counter()

if a.logits:
    id2label = model.config.id2label
    with open(a.logits, "w") as f:
        for i in range(len(texts)):
            f.write(json.dumps({"label": id2label[int(labels[i])], "mean_logits": mean[i].tolist(),
                                "probabilities": probs[i].tolist(), "windows": int(counts[i])}) + "\n")
loop = t_end - t_load
real = int(inputs["attention_mask"].sum())
print(json.dumps({
    "side": "transformers loop", "model": type(model).__name__, "attn": model.config._attn_implementation,
    "texts": len(texts), "windows": n, "real_tokens": real, "padded_tokens": int(inputs["input_ids"].numel()),
    "load_s": t_load - T0, "tokenize_s": t_tok - t_load, "forward_s": t_fwd - t_tok, "loop_s": loop,
    "script_s": t_end - T0, "texts_per_s": len(texts) / loop, "windows_per_s": n / loop,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "threads": torch.get_num_threads(),
    "torch": torch.__version__, "transformers": transformers.__version__,
}))
