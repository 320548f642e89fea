"""Outside the timings: do ckpt and HF `tokenizers` produce the same ids on
every line of each corpus, and how often does a grown tokenizer (synthetic
pieces appended) segment a line differently from its base?

  python bench/roberta_tokenize_check.py CKPT TOKENIZER_DIR... -- CORPUS... [--base DIR --grown DIR]

Prints markdown bullets."""
import json, os, subprocess, sys

args = sys.argv[1:]
ckpt = args.pop(0)
base = grown = None
if "--base" in args:
    i = args.index("--base"); base = args[i + 1]; del args[i:i + 2]
if "--grown" in args:
    i = args.index("--grown"); grown = args[i + 1]; del args[i:i + 2]
sep = args.index("--")
tokenizers_, corpora = args[:sep], args[sep + 1:]

os.environ.setdefault("RAYON_NUM_THREADS", "2")
from tokenizers import Tokenizer


def lines_of(path):
    ls = open(path, encoding="utf-8").read().split("\n")
    if ls and ls[-1] == "":
        ls.pop()
    return ls


tokens_of = {}
for tdir in tokenizers_:
    tok = Tokenizer.from_file(os.path.join(tdir, "tokenizer.json"))
    for corpus in corpora:
        lines = lines_of(corpus)
        hf = tok.encode_batch(lines)
        tokens_of[(tdir, corpus)] = [e.tokens for e in hf]
        p = subprocess.Popen([ckpt, "tokenize", os.path.join(tdir, "tokenizer.json"), "--file", corpus, "--json", "--threads", "2"],
                             stdout=subprocess.PIPE, text=True, encoding="utf-8")
        same = n = 0
        first_bad = None
        for i, line in enumerate(p.stdout):
            ids = json.loads(line)["ids"]
            n += 1
            if i < len(hf) and ids == hf[i].ids:
                same += 1
            elif first_bad is None:
                first_bad = i
        p.wait()
        msg = f"- ckpt vs HF ids, {os.path.basename(tdir)} on {os.path.basename(corpus)}: {same:,} of {len(hf):,} lines identical"
        if n != len(hf):
            msg += f" (ckpt printed {n:,} lines)"
        if first_bad is not None:
            msg += f"; first difference at line {first_bad + 1}: {lines[first_bad][:80]!r}"
        print(msg, flush=True)

if base and grown:
    for corpus in corpora:
        a, b = tokens_of.get((base, corpus)), tokens_of.get((grown, corpus))
        if a is None or b is None:
            continue
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        print(f"- {os.path.basename(grown)} against {os.path.basename(base)} on {os.path.basename(corpus)}: "
              f"{len(a) - len(diff):,} of {len(a):,} lines segmented the same"
              + (f" (first difference: {lines_of(corpus)[diff[0]][:60]!r})" if diff else ""))
