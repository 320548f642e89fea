"""The Python route from a text file to masked-LM batches, as a transformers
user writes it (run_mlm.py --line_by_line): datasets.load_dataset("text"),
.map() tokenizing with truncation (batched, NUM_PROC processes, the text column
dropped, special-tokens masks kept for the collator), then the first 10 batches
of 8 (the Trainer's shuffled order, seed 42) through
DataCollatorForLanguageModeling(mlm_probability=0.15, return_tensors="np") in a
plain loop: the data side of `ckpt train --max-steps 10 --batch-size 8`.
No PyTorch: the collator's NumPy path needs none.

usage: hf_datasets_mlm.py TOKENIZER_DIR CORPUS MAX_LENGTH NUM_PROC [CACHE_DIR]

CACHE_DIR (or $HF_DATASETS_BENCH_CACHE) is the datasets cache; give an empty or
missing directory for a cold run. Without either, a temporary directory is used
and removed at the end. Prints one JSON line: seconds for load_dataset, map and
the collator loop, examples, tokens, the cache's size on disk, and peak memory
from inside: ru_maxrss of this process and of its children (the map workers;
RUSAGE_CHILDREN is the largest child, not a sum, as /usr/bin/time's figure is
the largest of the process and its children), plus the peak of the summed RSS
and PSS of this process and its live children, sampled every 0.2 s.
"""
import json, os, resource, shutil, sys, tempfile, threading, time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")

tok_dir, corpus, max_length, num_proc = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
cache = sys.argv[5] if len(sys.argv) > 5 else os.environ.get("HF_DATASETS_BENCH_CACHE")
temporary = cache is None
if temporary:
    cache = tempfile.mkdtemp(prefix="hf-datasets-bench-")


def tree_memory():
    """Summed RSS and PSS (kB) of this process and its descendants."""
    pids, rss, pss = [os.getpid()], 0, 0
    while pids:
        pid = pids.pop()
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as f:
                    pids += [int(c) for c in f.read().split()]
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except (OSError, ValueError):
            pass
    return rss, pss


peak = [0, 0]
stop = threading.Event()


def sample():
    while not stop.wait(0.2):
        rss, pss = tree_memory()
        peak[0], peak[1] = max(peak[0], rss), max(peak[1], pss)


threading.Thread(target=sample, daemon=True).start()

t0 = time.perf_counter()
import datasets
import numpy as np
from transformers import AutoTokenizer, DataCollatorForLanguageModeling

t_import = time.perf_counter() - t0
tokenizer = AutoTokenizer.from_pretrained(tok_dir)
assert tokenizer.is_fast

t1 = time.perf_counter()
raw = datasets.load_dataset("text", data_files=corpus, cache_dir=cache, split="train")
t2 = time.perf_counter()


def tokenize(batch):
    return tokenizer(batch["text"], truncation=True, max_length=max_length, return_special_tokens_mask=True)


ds = raw.map(tokenize, batched=True, num_proc=num_proc if num_proc > 1 else None, remove_columns=["text"])
t3 = time.perf_counter()

collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15, return_tensors="np", seed=42)
order = np.random.default_rng(42).permutation(len(ds))
batch_tokens = 0
for step in range(10):
    rows = [ds[int(i)] for i in order[step * 8:(step + 1) * 8]]
    batch = collator(rows)
    batch_tokens += int(batch["attention_mask"].sum())
t4 = time.perf_counter()
stop.set()

import pyarrow.compute as pc
tokens = int(pc.sum(pc.list_value_length(ds.data.column("input_ids"))).as_py())
cache_bytes = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(cache) for f in fs)
if temporary:
    shutil.rmtree(cache, ignore_errors=True)
print(json.dumps({
    "corpus_bytes": os.path.getsize(corpus), "max_length": max_length, "num_proc": num_proc,
    "examples": len(ds), "tokens": tokens, "collated_tokens_10x8": batch_tokens,
    "import_s": round(t_import, 2), "load_s": round(t2 - t1, 2), "map_s": round(t3 - t2, 2),
    "load_map_s": round(t3 - t1, 2), "collate_10x8_s": round(t4 - t3, 3),
    "self_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    "children_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
    "tree_peak_rss_sum_mb": round(peak[0] / 1024), "tree_peak_pss_sum_mb": round(peak[1] / 1024),
    "cache_mb": round(cache_bytes / 1e6), "datasets": datasets.__version__,
    "transformers": __import__("transformers").__version__, "torch_loaded": "torch" in sys.modules,
}))
