"""HF `tokenizers` on the same corpus: single-thread encode loop and
encode_batch on 1 and 2 threads (RAYON_NUM_THREADS), best of 3, no padding or
truncation (as ckpt, and as transformers calls it by default)."""
import os, subprocess, sys, time

tok_path, corpus = sys.argv[1], sys.argv[2]
if len(sys.argv) == 3:
    for threads in (1, 2):
        env = dict(os.environ, RAYON_NUM_THREADS=str(threads), TOKENIZERS_PARALLELISM="true")
        subprocess.run([sys.executable, "-W", "ignore", __file__, tok_path, corpus, str(threads)], env=env, check=True)
    sys.exit(0)

from tokenizers import Tokenizer
threads = int(sys.argv[3])
t0 = time.perf_counter()
tok = Tokenizer.from_file(tok_path)
load = time.perf_counter() - t0
tok.no_padding()
tok.no_truncation()
lines = open(corpus, encoding="utf-8").read().split("\n")
if lines and lines[-1] == "":
    lines.pop()
nbytes = sum(len(l.encode()) for l in lines)
best_batch = best_single = 0.0
for _ in range(3):
    s = time.perf_counter(); enc = tok.encode_batch(lines); d = time.perf_counter() - s
    best_batch = max(best_batch, nbytes / 1e6 / d)
    if threads == 1:
        s = time.perf_counter()
        for l in lines:
            tok.encode(l)
        d = time.perf_counter() - s
        best_single = max(best_single, nbytes / 1e6 / d)
ntok = sum(len(e.ids) for e in enc)
print(f"| HF tokenizers encode_batch | {threads} | {best_batch:.2f} | {ntok} |")
if threads == 1:
    print(f"| HF tokenizers encode, one text at a time | 1 | {best_single:.2f} | {ntok} |")
    print(f"\nHF: loading tokenizer.json: {load*1000:.1f} ms", file=sys.stderr)
