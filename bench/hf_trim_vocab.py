"""Vocabulary trimming the way a Python user does it with transformers and
tokenizers (the recipe of the XLM-R trimming notebooks): load the masked-LM
model and its fast tokenizer, encode the corpus with encode_batch (no special
tokens) and count the ids, keep the used ids plus the special tokens (and,
as ckpt does, <unk> and the lowest-scoring Unigram piece, whose score sets
the unknown piece's penalty) in their order, index_select the word-embedding
rows and the decoder bias (the decoder weight stays tied), rebuild
tokenizer.json with the kept pieces (Unigram vocab list, unk_id,
added_tokens, the post-processor's ids), save_pretrained model and tokenizer.

  python bench/hf_trim_vocab.py MODEL CORPUS OUT [--threads N]

Threads: torch.set_num_threads(N) and RAYON_NUM_THREADS=N for tokenizers
(set before tokenizers is imported). Prints one JSON object: wall seconds,
peak RSS, old and new vocabulary sizes."""
import argparse, os, resource, sys, time

t0 = time.perf_counter()
ap = argparse.ArgumentParser()
ap.add_argument("model"); ap.add_argument("corpus"); ap.add_argument("out")
ap.add_argument("--threads", type=int, default=2)
a = ap.parse_args()
os.environ["RAYON_NUM_THREADS"] = str(a.threads)
os.environ["TOKENIZERS_PARALLELISM"] = "true"

import json
import numpy as np
import torch
from tokenizers import Tokenizer
from transformers import AutoModelForMaskedLM, AutoTokenizer

torch.set_num_threads(a.threads)
model = AutoModelForMaskedLM.from_pretrained(a.model)
tok = AutoTokenizer.from_pretrained(a.model)
backend = Tokenizer.from_file(os.path.join(a.model, "tokenizer.json"))
tj = json.load(open(os.path.join(a.model, "tokenizer.json"), encoding="utf-8"))
assert tj["model"]["type"] == "Unigram"
vocab = tj["model"]["vocab"]
n = len(vocab)

# Count the corpus's pieces.
lines = [l for l in open(a.corpus, encoding="utf-8").read().split("\n") if l]
counts = np.zeros(n, dtype=np.int64)
for i in range(0, len(lines), 10000):
    ids = [e.ids for e in backend.encode_batch(lines[i:i + 10000], add_special_tokens=False)]
    counts += np.bincount(np.fromiter((x for e in ids for x in e), dtype=np.int64), minlength=n)

# What is kept, in the old order.
always = {t["id"] for t in tj["added_tokens"]} | set(tok.all_special_ids)
always.add(tj["model"]["unk_id"])
always.add(min(range(n), key=lambda i: vocab[i][1]))
keep = sorted(always | set(np.nonzero(counts)[0].tolist()))
new_id = {old: new for new, old in enumerate(keep)}

# The model: embedding rows, decoder bias; the decoder weight tied again.
idx = torch.tensor(keep)
emb = model.get_input_embeddings()
with torch.no_grad():
    new_emb = torch.nn.Embedding(len(keep), emb.embedding_dim, padding_idx=new_id[model.config.pad_token_id])
    new_emb.weight.copy_(emb.weight.index_select(0, idx))
    model.set_input_embeddings(new_emb)
    head = model.lm_head
    head.bias = torch.nn.Parameter(head.bias.index_select(0, idx))
    head.decoder = torch.nn.Linear(emb.embedding_dim, len(keep))
    head.decoder.bias = head.bias
model.config.vocab_size = len(keep)
for k in ("pad_token_id", "bos_token_id", "eos_token_id"):
    if getattr(model.config, k, None) is not None:
        setattr(model.config, k, new_id[getattr(model.config, k)])
model.tie_weights()
assert model.lm_head.decoder.weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()

# The tokenizer: pieces kept in order, every id renumbered.
tj["model"]["vocab"] = [vocab[i] for i in keep]
tj["model"]["unk_id"] = new_id[tj["model"]["unk_id"]]
for t in tj["added_tokens"]:
    t["id"] = new_id[t["id"]]


def remap(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "ids" and isinstance(v, list):
                node[k] = [new_id[i] for i in v]
            elif k in ("cls", "sep") and isinstance(v, list) and len(v) == 2:
                node[k] = [v[0], new_id[v[1]]]
            else:
                remap(v)
    elif isinstance(node, list):
        for v in node:
            remap(v)


remap(tj.get("post_processor"))
new_tok = type(tok)(tokenizer_object=Tokenizer.from_str(json.dumps(tj)), **tok.special_tokens_map,
                    model_max_length=tok.model_max_length)
model.save_pretrained(a.out)
new_tok.save_pretrained(a.out)
print(json.dumps({"wall_s": time.perf_counter() - t0, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "old_vocab_size": n, "new_vocab_size": len(keep), "used_pieces": int((counts > 0).sum()),
                  "corpus_tokens": int(counts.sum())}))
