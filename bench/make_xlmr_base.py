"""An XLM-R-base-sized masked-LM directory: XLMRobertaForMaskedLM with random
weights (transformers' initialisation, seeded; vocabulary 250,002 by default,
hidden 768, 12 layers, 12 heads, intermediate 3072, 514 positions, pad id 1,
word embeddings tied to the decoder) written by save_pretrained
(safetensors), plus a tokenizer directory's files.

  python bench/make_xlmr_base.py TOKENIZER_DIR OUT"""
import json, os, shutil, sys

import torch
from transformers import XLMRobertaConfig, XLMRobertaForMaskedLM

tok_dir, out = sys.argv[1:3]
files = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "sentencepiece.bpe.model"]
vocab = len(json.load(open(os.path.join(tok_dir, "tokenizer.json")))["model"]["vocab"])
torch.manual_seed(0)
cfg = XLMRobertaConfig(vocab_size=vocab, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                       intermediate_size=3072, max_position_embeddings=514, type_vocab_size=1, pad_token_id=1,
                       bos_token_id=0, eos_token_id=2, layer_norm_eps=1e-5, hidden_act="gelu",
                       tie_word_embeddings=True, architectures=["XLMRobertaForMaskedLM"])
model = XLMRobertaForMaskedLM(cfg).eval()
with torch.no_grad():  # transformers starts the decoder bias at zero; random, so that moved rows can be checked
    model.lm_head.bias.normal_(0, 0.02)
model.save_pretrained(out)
for f in files:
    if os.path.exists(os.path.join(tok_dir, f)):
        shutil.copy(os.path.join(tok_dir, f), os.path.join(out, f))
