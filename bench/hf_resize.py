"""The seed notebook's resize: AutoModelForMaskedLM.from_pretrained, the domain
tokenizer, model.resize_token_embeddings(len(tokenizer), mean_resizing=...),
save_pretrained of the model and the tokenizer. Prints wall seconds and peak RSS."""
import argparse, json, resource, time

t0 = time.perf_counter()
import torch
from transformers import AutoModelForMaskedLM, AutoTokenizer

ap = argparse.ArgumentParser()
ap.add_argument("model"); ap.add_argument("tokenizer"); ap.add_argument("out")
ap.add_argument("--mean-resizing", action="store_true")
ap.add_argument("--threads", type=int, default=2)
a = ap.parse_args()
torch.set_num_threads(a.threads)
model = AutoModelForMaskedLM.from_pretrained(a.model)
tok = AutoTokenizer.from_pretrained(a.tokenizer)
model.resize_token_embeddings(len(tok), mean_resizing=a.mean_resizing)
model.save_pretrained(a.out)
tok.save_pretrained(a.out)
print(json.dumps({"wall_s": time.perf_counter() - t0, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
