"""Writes the "domain tokenizer" of the resize-vocab benchmark: all-MiniLM-L6-v2's
BERT uncased WordPiece (30,522 tokens) with its non-special tokens in a seeded
shuffled order, plus seeded synthetic domain words and ## pieces built from
syllables, up to N tokens. Shuffling makes every copied row move, as with a
tokenizer trained on another corpus; the new words stress the subword-mean
initialisation (each is tokenized by the old tokenizer)."""
import json, os, random, shutil, sys

src, size, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rng = random.Random(11)
tok = json.load(open(os.path.join(src, "tokenizer.json"), encoding="utf-8"))
vocab = tok["model"]["vocab"]
specials = {t["content"] for t in tok["added_tokens"]}
ordered = sorted(vocab, key=vocab.get)
fixed = [t for t in ordered if t in specials]
rest = [t for t in ordered if t not in specials]
rng.shuffle(rest)
syllables = ["ka", "to", "ri", "men", "zo", "lu", "tra", "vex", "qui", "dor", "phy", "sta", "gen", "ol", "ix", "ber", "nu",
             "cal", "tes", "mo", "rha", "pri", "ent", "ase", "ide"]
seen = set(ordered)
new = []
while len(fixed) + len(rest) + len(new) < size:
    w = "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))
    if rng.random() < 0.3:
        w = "##" + w
    if w not in seen:
        seen.add(w)
        new.append(w)
words = fixed + rest + new
tok["model"]["vocab"] = {w: i for i, w in enumerate(words)}
for t in tok["added_tokens"]:
    t["id"] = tok["model"]["vocab"][t["content"]]
if tok.get("post_processor") and "special_tokens" in tok["post_processor"]:
    for k, v in tok["post_processor"]["special_tokens"].items():
        v["ids"] = [tok["model"]["vocab"][x] for x in v["tokens"]]
os.makedirs(out, exist_ok=True)
json.dump(tok, open(os.path.join(out, "tokenizer.json"), "w", encoding="utf-8"), ensure_ascii=False)
for f in ["tokenizer_config.json", "special_tokens_map.json"]:
    if os.path.exists(os.path.join(src, f)):
        shutil.copy(os.path.join(src, f), os.path.join(out, f))
open(os.path.join(out, "vocab.txt"), "w", encoding="utf-8").write("\n".join(words) + "\n")
print(len(words))
