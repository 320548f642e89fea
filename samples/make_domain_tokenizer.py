#!/usr/bin/env python3
"""Trains samples/domain-tokenizer/: a lowercase BERT WordPiece tokenizer of
8,000 tokens, trained with Hugging Face `tokenizers` on
samples/corpus/python-docs.txt — the domain tokenizer of `make demo`. Needs
`pip install tokenizers transformers`; the result is committed, so `make demo`
never runs this. (The trainer breaks ties between equally frequent merges in
hash order, so a re-run may differ in a few merges.)"""
import os
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import BertTokenizerFast

here = os.path.dirname(os.path.abspath(__file__))
tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
tok.normalizer = normalizers.BertNormalizer(lowercase=True)
tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
tok.train([os.path.join(here, "corpus", "python-docs.txt")],
          trainers.WordPieceTrainer(vocab_size=8000, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
                                    show_progress=False))
tok.post_processor = processors.TemplateProcessing(
    single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
    special_tokens=[("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))])
tok.decoder = decoders.WordPiece()
BertTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
                  mask_token="[MASK]", do_lower_case=True, model_max_length=512).save_pretrained(
    os.path.join(here, "domain-tokenizer"))
print(tok.get_vocab_size(), "tokens")
