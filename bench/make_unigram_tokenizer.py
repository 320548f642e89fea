"""An XLM-R-style Unigram tokenizer trained on this machine's text.

  python bench/make_unigram_tokenizer.py OUT VOCAB_SIZE TEXT... --name DIR [--grow-to N --grow-text F --grow-name DIR]

1. SentencePiece (the `sentencepiece` package) trains a Unigram model the way
   XLM-R's sentencepiece.bpe.model was trained: model_type unigram,
   nmt_nfkc normalization, character coverage 0.9995, <unk> <s> </s> as
   pieces 0-2, no byte fallback; on the distinct lines of TEXT (in order),
   seeded, 2 threads. OUT/spm-VOCAB_SIZE.model.
2. transformers' XLMRobertaConverter (convert_slow_tokenizer) turns it into
   tokenizer.json exactly as XLM-R's was built: <s> <pad> </s> <unk>, the
   pieces from the fourth on, <mask> last (VOCAB_SIZE + 2 ids, the fairseq
   layout), Precompiled charsmap + whitespace normalizers, Metaspace, the
   <s> $A </s> template. Written with the XLM-R specials as added tokens
   (as the Hub's xlm-roberta-base tokenizer.json lists them), beside
   sentencepiece.bpe.model, tokenizer_config.json and special_tokens_map.json:
   OUT/<--name>/.
3. With --grow-to N: the same model with synthetic pieces appended to the
   SentencePiece model (before conversion, so <mask> stays last) until the
   tokenizer has N ids (250,002: XLM-R's size): distinct words and word
   prefixes of --grow-text (NFKC, most frequent first, "▁"-initial and
   word-internal forms, at most 16 characters, not already pieces), each with
   a score below any real piece's times 16 (a 16-character word split into
   single characters), so the Viterbi never prefers one where real pieces
   cover the text: they lengthen the trie walks and the vocabulary as
   XLM-R's extra pieces do, and encodings stay the base model's except around
   a character that has no piece (a synthetic piece can then beat <unk>, and
   <unk>'s score, 10 below the lowest piece's, drops with it).
   OUT/<--grow-name>/.
Prints one JSON object describing what was built."""
import argparse, collections, json, os, shutil, sys, unicodedata

import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as pb
from transformers.convert_slow_tokenizer import XLMRobertaConverter

ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("vocab_size", type=int)
ap.add_argument("text", nargs="+")
ap.add_argument("--name", required=True)
ap.add_argument("--grow-to", type=int)
ap.add_argument("--grow-text")
ap.add_argument("--grow-name")
ap.add_argument("--threads", type=int, default=2)
a = ap.parse_args()
os.makedirs(a.out, exist_ok=True)
info = {}

model_file = os.path.join(a.out, f"spm-{a.vocab_size}.model")
if not os.path.exists(model_file):
    train = os.path.join(a.out, f"train-{a.vocab_size}.txt")
    seen = set()
    with open(train, "w", encoding="utf-8") as w:
        for path in a.text:
            for line in open(path, encoding="utf-8"):
                line = line.rstrip("\n")
                if line and line not in seen:
                    seen.add(line)
                    w.write(line + "\n")
    spm.set_random_generator_seed(0)
    spm.SentencePieceTrainer.train(
        input=train, model_prefix=model_file[:-len(".model")], model_type="unigram", vocab_size=a.vocab_size,
        normalization_rule_name="nmt_nfkc", character_coverage=0.9995, byte_fallback=False,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, num_threads=a.threads, input_sentence_size=0,
        minloglevel=1)
    os.remove(train)
    os.remove(model_file[:-len(".model")] + ".vocab")
    info["training_lines"] = len(seen)
    info["training_bytes"] = sum(len(s.encode()) + 1 for s in seen)


class XLMRobertaTokenizer:
    """Stands in for transformers' slow (SentencePiece) XLMRobertaTokenizer,
    which the converter reads: the .model path, the fairseq ids of <s> and
    </s>, add_prefix_space."""
    add_prefix_space = True

    def __init__(self, vocab_file):
        self.vocab_file = vocab_file

    def convert_tokens_to_ids(self, t):
        return {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}[t]


def write_dir(spm_path, out):
    from tokenizers import AddedToken
    tok = XLMRobertaConverter(XLMRobertaTokenizer(spm_path)).converted()
    # As XLMRobertaTokenizerFast registers them (<mask> strips the space on its left).
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False, lstrip=t == "<mask>")
                            for t in ("<s>", "<pad>", "</s>", "<unk>", "<mask>")])
    os.makedirs(out, exist_ok=True)
    shutil.copy(spm_path, os.path.join(out, "sentencepiece.bpe.model"))
    tok.save(os.path.join(out, "tokenizer.json"))
    specials = {"bos_token": "<s>", "cls_token": "<s>", "eos_token": "</s>", "mask_token": "<mask>",
                "pad_token": "<pad>", "sep_token": "</s>", "unk_token": "<unk>"}
    json.dump(specials, open(os.path.join(out, "special_tokens_map.json"), "w"), indent=2)
    json.dump(dict(specials, tokenizer_class="XLMRobertaTokenizer", model_max_length=512, add_prefix_space=True,
                   clean_up_tokenization_spaces=False),
              open(os.path.join(out, "tokenizer_config.json"), "w"), indent=2)
    return tok.get_vocab_size()


m = pb.ModelProto()
m.ParseFromString(open(model_file, "rb").read())
n = write_dir(model_file, os.path.join(a.out, a.name))
info.update({"spm_pieces": len(m.pieces), "ids": n, "dir": os.path.join(a.out, a.name),
             "lowest_score": min(p.score for p in m.pieces if p.type == 1)})

if a.grow_to:
    grow_dir = os.path.join(a.out, a.grow_name)
    need = a.grow_to - n
    have = {p.piece for p in m.pieces}
    counts = collections.Counter()
    for line in open(a.grow_text, encoding="utf-8"):
        for w in unicodedata.normalize("NFKC", line).split():
            counts[w] += 1
    extra, seen = [], set(have)
    for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        forms = ["▁" + w[:j] for j in range(len(w), 1, -1)] + [w[i:] for i in range(1, len(w) - 1)]
        for f in forms:
            if len(f) <= 16 and len(f) > 1 and f not in seen:
                seen.add(f)
                extra.append(f)
        if len(extra) >= need:
            break
    if len(extra) < need:
        sys.exit(f"only {len(extra)} synthetic pieces found, {need} needed")
    low = info["lowest_score"] * 16 - 10
    for i, piece in enumerate(extra[:need]):
        p = m.pieces.add()
        p.piece, p.score, p.type = piece, low - i * 1e-4, pb.ModelProto.SentencePiece.NORMAL
    grown = os.path.join(a.out, f"spm-{a.vocab_size}-grown-{a.grow_to}.model")
    open(grown, "wb").write(m.SerializeToString())
    info["grown"] = {"ids": write_dir(grown, grow_dir), "dir": grow_dir, "synthetic_pieces": need,
                     "synthetic_scores": [low - (need - 1) * 1e-4, low]}
print(json.dumps(info))
