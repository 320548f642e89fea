"""Outside the timings: do `ckpt trim-vocab` and bench/hf_trim_vocab.py agree,
and does transformers take ckpt's output?

  python bench/roberta_trim_check.py ORIGINAL CKPT_OUT HF_OUT CORPUS

- the kept pieces (Unigram vocab lists, scores, unk_id, added tokens,
  post-processor ids) of the two tokenizer.json files;
- the tensors of the two model.safetensors (names, shapes, values), and
  ckpt's word-embedding rows and decoder bias against the original's rows of
  the same pieces;
- AutoModelForMaskedLM.from_pretrained(CKPT_OUT): missing, unexpected and
  mismatched keys; its logits on a few corpus lines against the original
  model's logits at the kept ids;
- ckpt's tokenizer (tokenizers.Tokenizer.from_file and AutoTokenizer) on
  corpus lines: the same tokens as the original tokenizer, ids mapped.
Prints markdown bullets."""
import json, os, sys

os.environ.setdefault("RAYON_NUM_THREADS", "2")
import torch
from safetensors.torch import load_file
from tokenizers import Tokenizer
from transformers import AutoModelForMaskedLM, AutoTokenizer

orig, cko, hfo, corpus = sys.argv[1:5]
torch.set_num_threads(2)
tj = {k: json.load(open(os.path.join(d, "tokenizer.json"), encoding="utf-8")) for k, d in (("orig", orig), ("ckpt", cko), ("hf", hfo))}
pieces = {k: [p for p, _ in v["model"]["vocab"]] for k, v in tj.items()}
scores = {k: [s for _, s in v["model"]["vocab"]] for k, v in tj.items()}
old_id = {p: i for i, p in enumerate(pieces["orig"])}
print(f"- kept pieces: ckpt {len(pieces['ckpt']):,}, Python {len(pieces['hf']):,}; "
      f"same pieces in the same order: {pieces['ckpt'] == pieces['hf']}; scores: ckpt's as written in the original "
      f"{scores['ckpt'] == [scores['orig'][old_id[p]] for p in pieces['ckpt']]}, "
      f"largest difference between the two outputs {max(abs(x - y) for x, y in zip(scores['ckpt'], scores['hf'])):.2g}")
if pieces["ckpt"] != pieces["hf"]:
    a, b = set(pieces["ckpt"]), set(pieces["hf"])
    print(f"  - only ckpt: {len(a - b)} {sorted(a - b)[:10]}; only Python: {len(b - a)} {sorted(b - a)[:10]}")
same_meta = all(tj["ckpt"][k] == tj["hf"][k] for k in ("normalizer", "pre_tokenizer", "decoder"))
print(f"- unk_id ckpt {tj['ckpt']['model']['unk_id']} / Python {tj['hf']['model']['unk_id']}; "
      f"added tokens ckpt {[(t['content'], t['id']) for t in tj['ckpt']['added_tokens']]} / Python {[(t['content'], t['id']) for t in tj['hf']['added_tokens']]}; "
      f"post-processors equal: {tj['ckpt']['post_processor'] == tj['hf']['post_processor']}; normalizer, pre-tokenizer, decoder equal: {same_meta}")

keep = torch.tensor([old_id[p] for p in pieces["ckpt"]])
st = {k: load_file(os.path.join(d, "model.safetensors")) for k, d in (("orig", orig), ("ckpt", cko), ("hf", hfo))}
names_c, names_h = set(st["ckpt"]), set(st["hf"])
common = sorted(names_c & names_h)
equal = [n for n in common if st["ckpt"][n].shape == st["hf"][n].shape and torch.equal(st["ckpt"][n], st["hf"][n])]
print(f"- tensors: ckpt {len(names_c)}, Python {len(names_h)}, {len(common)} in both, {len(equal)} of them bit-identical"
      + (f"; only ckpt: {sorted(names_c - names_h)}" if names_c - names_h else "")
      + (f"; only Python: {sorted(names_h - names_c)}" if names_h - names_c else "")
      + (f"; differing: {[n for n in common if n not in equal]}" if len(equal) != len(common) else ""))
for n in ("roberta.embeddings.word_embeddings.weight", "lm_head.bias", "lm_head.decoder.bias", "lm_head.decoder.weight"):
    if n in st["ckpt"] and n in st["orig"]:
        ok = torch.equal(st["ckpt"][n], st["orig"][n].index_select(0, keep))
        print(f"  - ckpt `{n}` {tuple(st['ckpt'][n].shape)}: the original's rows of the kept pieces: {ok}")

model, info = AutoModelForMaskedLM.from_pretrained(cko, output_loading_info=True)
print(f"- transformers loads ckpt's output as {type(model).__name__} (vocab_size {model.config.vocab_size:,}): "
      + ", ".join(f"{k} {v if v else 'none'}" for k, v in info.items()))
tied = model.lm_head.decoder.weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()
lines = [l for l in open(corpus, encoding="utf-8").read().split("\n") if l]
sample = lines[:200] + lines[len(lines) // 2:len(lines) // 2 + 200] + lines[-100:]
tok_o, tok_c = Tokenizer.from_file(os.path.join(orig, "tokenizer.json")), Tokenizer.from_file(os.path.join(cko, "tokenizer.json"))
at_o, at_c = AutoTokenizer.from_pretrained(orig), AutoTokenizer.from_pretrained(cko)
same_t = same_a = same_ids = 0
for l in sample:
    eo, ec = tok_o.encode(l), tok_c.encode(l)
    same_t += eo.tokens == ec.tokens
    same_ids += [int(keep[i]) for i in ec.ids] == eo.ids
    same_a += [int(keep[i]) for i in at_c(l)["input_ids"]] == at_o(l)["input_ids"]
print(f"- ckpt's tokenizer on {len(sample)} corpus lines (first, middle, last): same tokens as the original {same_t}/{len(sample)}, "
      f"same ids after mapping {same_ids}/{len(sample)} (tokenizers); AutoTokenizer ids mapped {same_a}/{len(sample)}")

orig_model = AutoModelForMaskedLM.from_pretrained(orig).eval()
hf_model = AutoModelForMaskedLM.from_pretrained(hfo).eval()
model.eval()
batch = at_o(sample[:4], padding=True, return_tensors="pt")
with torch.no_grad():
    ref = orig_model(**batch).logits[..., keep]
    ids_new = batch["input_ids"].clone()
    inv = {int(o): n for n, o in enumerate(keep)}
    ids_new.apply_(lambda x: inv[x])
    out_c = model(input_ids=ids_new, attention_mask=batch["attention_mask"]).logits
    out_h = hf_model(input_ids=ids_new, attention_mask=batch["attention_mask"]).logits
m = batch["attention_mask"].bool()
print(f"- logits on 4 lines ({int(m.sum())} tokens × {len(keep):,} kept ids): ckpt's output against the original at the kept ids, "
      f"largest difference {(out_c - ref)[m].abs().max().item():.3g}; Python's {(out_h - ref)[m].abs().max().item():.3g}; "
      f"decoder tied to the embeddings in ckpt's output as loaded: {tied}")
