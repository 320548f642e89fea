"""Writes a randomly initialised masked-LM model directory with transformers
(save_pretrained, seeded) plus a tokenizer directory's files: the common
starting point of the end-to-end training benchmark."""
import shutil, sys, os
import torch
from transformers import AutoConfig, AutoModelForMaskedLM

config_path, tokenizer_dir, out = sys.argv[1:4]
torch.manual_seed(0)
model = AutoModelForMaskedLM.from_config(AutoConfig.from_pretrained(config_path))
model.save_pretrained(out)
for f in ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"]:
    shutil.copy(os.path.join(tokenizer_dir, f), os.path.join(out, f))
