"""Writes a randomly initialised sequence-classification model directory with
transformers (save_pretrained, seeded) plus a tokenizer directory's files: the
common starting point of the fine-tuning benchmark (bench/task_bench.sh).

usage: make_classifier_model.py CONFIG_DIR TOKENIZER_DIR LABELS_FILE OUT

LABELS_FILE holds the label names, one a line, in the order of the class ids
(ckpt train's default order: sorted)."""
import os, shutil, sys

import torch
from transformers import AutoConfig, AutoModelForSequenceClassification

config_dir, tokenizer_dir, labels_file, out = sys.argv[1:5]
labels = [l for l in open(labels_file, encoding="utf-8").read().splitlines() if l]
config = AutoConfig.from_pretrained(config_dir, num_labels=len(labels),
                                    id2label=dict(enumerate(labels)), label2id={l: i for i, l in enumerate(labels)},
                                    problem_type="single_label_classification")
torch.manual_seed(0)
model = AutoModelForSequenceClassification.from_config(config)
model.save_pretrained(out)
for f in ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"]:
    shutil.copy(os.path.join(tokenizer_dir, f), os.path.join(out, f))
print(f"{out}: {type(model).__name__}, {sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters, {len(labels)} labels")
