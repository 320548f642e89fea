#!/usr/bin/env python3
"""Seeds for the tokenizer-json fuzz harness that the fixtures' tokenizers do
not give it: small tokenizer.json files written by the `tokenizers` library,
together using every component ckpt reads (each normalizer, pre-tokenizer,
decoder and post-processor, a precompiled charsmap compiled by sentencepiece,
truncation and padding), so the fuzzer starts from each and not only from
the WordPiece, BPE and Unigram pipelines of real models.

Usage: python3 tools/fuzz/make_tokenizer_seeds.py OUT_DIR   (needs tokenizers, sentencepiece)
"""
import os
import sys
import tempfile

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
from make_unigram_goldens import small_charsmap  # noqa: E402  (sentencepiece compiles it, ~1 KB)

WORDS = ["the", "cat", "sat", "on", "mat", "a", "bird", "saw", "tree", "fine", "day", "1", "2", ",", ".", "!", "'"]
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def wordpiece_components():
    """WordPiece with every normalizer and pre-tokenizer but the byte-level ones,
    a pair template, the decoders that undo them, truncation and padding."""
    vocab = {t: i for i, t in enumerate(SPECIALS + WORDS + ["##s", "##at", "##e", "fi"])}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=20))
    tok.normalizer = normalizers.Sequence([
        normalizers.NFKD(), normalizers.NFC(), normalizers.NFD(), normalizers.StripAccents(), normalizers.NFKC(),
        normalizers.Lowercase(), normalizers.Replace("``", '"'), normalizers.Replace(Regex(r"\s+"), " "),
        normalizers.Strip(left=True, right=True),
    ])
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation(behavior="isolated"),
        pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.Whitespace(),
    ])
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    tok.decoder = decoders.Sequence([decoders.Replace("``", '"'), decoders.WordPiece(prefix="##", cleanup=True)])
    tok.add_special_tokens([AddedToken("[MASK]", lstrip=True, single_word=False, normalized=False)])
    tok.add_tokens([AddedToken("tree house", single_word=True, normalized=True)])
    tok.enable_truncation(max_length=12, stride=2, strategy="longest_first", direction="left")
    tok.enable_padding(pad_id=0, pad_token="[PAD]", pad_to_multiple_of=8)
    return tok


def bert_pipeline():
    """BERT's normalizer and pre-tokenizer with BertProcessing."""
    vocab = {t: i for i, t in enumerate(SPECIALS + WORDS)}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.BertProcessing(("[SEP]", 3), ("[CLS]", 2))
    tok.decoder = decoders.WordPiece()
    tok.enable_truncation(max_length=16, strategy="only_second")
    return tok


def bpe_metaspace():
    """A Llama-style BPE: ▁ prepended and replacing spaces, and the decoders
    that undo them (byte pieces as <0x..>; ckpt refuses BPE's byte_fallback)."""
    pieces = ["<unk>", "<s>", "</s>", "<0x41>", "<0xE2>", "<0x84>", "<0xA2>"] + ["▁", "t", "h", "e", "a", "c", "▁t", "he", "▁the", "at", "▁c", "▁cat"]
    vocab = {t: i for i, t in enumerate(pieces)}
    merges = [("▁", "t"), ("h", "e"), ("▁t", "he"), ("a", "t"), ("▁", "c"), ("▁c", "at")]
    tok = Tokenizer(models.BPE(vocab, merges, unk_token="<unk>", fuse_unk=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s>:1 $B:1", special_tokens=[("<s>", 1)])
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(content=" ", left=1, right=0)])
    return tok


def bpe_bytelevel():
    """GPT-2/RoBERTa's byte-level BPE with a split regex and RoBERTa's specials."""
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    pieces = ["<s>", "<pad>", "</s>", "<unk>"] + sorted(alphabet) + ["Ġt", "Ġth", "Ġthe", "at", "Ġc", "Ġcat"]
    vocab = {t: i for i, t in enumerate(pieces)}
    merges = [("Ġ", "t"), ("Ġt", "h"), ("Ġth", "e"), ("a", "t"), ("Ġ", "c"), ("Ġc", "at")]
    tok = Tokenizer(models.BPE(vocab, merges, continuing_subword_prefix="", end_of_word_suffix="", dropout=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True)
    tok.post_processor = processors.ByteLevel(trim_offsets=True)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(["<s>", "</s>", AddedToken("<mask>", lstrip=True)])
    return tok


def unigram_charsmap(tmp):
    """A Unigram model behind a precompiled charsmap (five sentencepiece rules,
    ~1 KB), Metaspace pre-tokenizer and decoder."""
    pieces = [("<unk>", 0.0), ("<s>", 0.0), ("</s>", 0.0), ("▁", -2.0), ("▁the", -3.0), ("▁cat", -4.0), ("fi", -4.5),
              ("t", -5.0), ("h", -5.0), ("e", -5.0), ("c", -5.0), ("a", -5.0), ("s", -5.0), ("TM", -6.0), ("A", -6.0)]
    tok = Tokenizer(models.Unigram(pieces, unk_id=0, byte_fallback=False))
    tok.normalizer = normalizers.Sequence([normalizers.Precompiled(small_charsmap(tmp)),
                                           normalizers.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.post_processor = processors.TemplateProcessing(single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
                                                       special_tokens=[("<s>", 1), ("</s>", 2)])
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    return tok


def main(out):
    os.makedirs(out, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        made = {
            "components.json": wordpiece_components(),
            "bert-pipeline.json": bert_pipeline(),
            "bpe-metaspace.json": bpe_metaspace(),
            "bpe-bytelevel.json": bpe_bytelevel(),
            "unigram-charsmap.json": unigram_charsmap(tmp),
        }
        for name, tok in made.items():
            tok.encode("The cat sat on the ﬁne mat™, 12!", "a bird")     # each loads and encodes in tokenizers
            tok.save(os.path.join(out, name), pretty=False)


if __name__ == "__main__":
    main(sys.argv[1])
