#!/usr/bin/env python3
"""Write a BERT-base-sized BertForMaskedLM checkpoint for benchmarks.

The tensor names, shapes and file layout are those of
`BertForMaskedLM.save_pretrained()` (transformers, safetensors output): the
decoder weight and bias are tied to the word embeddings and to
`cls.predictions.bias`, so they are not stored, and the model has no pooler.
Every value is a seeded standard normal times 0.02, so two runs write
byte-identical files. Needs numpy and safetensors only.

Usage: python bench/make_bert_base.py [OUT_DIR]   (default bench/out/bert-base)
"""

import json
import os
import sys

import numpy as np
from safetensors.numpy import save_file

VOCAB = 30522
HIDDEN = 768
LAYERS = 12
HEADS = 12
INTERMEDIATE = 3072
POSITIONS = 512
TYPES = 2
SEED = 20240601


def shapes():
    """(name, shape) for every stored tensor, in state-dict order."""
    out = [
        ("bert.embeddings.word_embeddings.weight", (VOCAB, HIDDEN)),
        ("bert.embeddings.position_embeddings.weight", (POSITIONS, HIDDEN)),
        ("bert.embeddings.token_type_embeddings.weight", (TYPES, HIDDEN)),
        ("bert.embeddings.LayerNorm.weight", (HIDDEN,)),
        ("bert.embeddings.LayerNorm.bias", (HIDDEN,)),
    ]
    for i in range(LAYERS):
        p = f"bert.encoder.layer.{i}."
        for proj in ("query", "key", "value"):
            out.append((p + f"attention.self.{proj}.weight", (HIDDEN, HIDDEN)))
            out.append((p + f"attention.self.{proj}.bias", (HIDDEN,)))
        out += [
            (p + "attention.output.dense.weight", (HIDDEN, HIDDEN)),
            (p + "attention.output.dense.bias", (HIDDEN,)),
            (p + "attention.output.LayerNorm.weight", (HIDDEN,)),
            (p + "attention.output.LayerNorm.bias", (HIDDEN,)),
            (p + "intermediate.dense.weight", (INTERMEDIATE, HIDDEN)),
            (p + "intermediate.dense.bias", (INTERMEDIATE,)),
            (p + "output.dense.weight", (HIDDEN, INTERMEDIATE)),
            (p + "output.dense.bias", (HIDDEN,)),
            (p + "output.LayerNorm.weight", (HIDDEN,)),
            (p + "output.LayerNorm.bias", (HIDDEN,)),
        ]
    out += [
        ("cls.predictions.bias", (VOCAB,)),
        ("cls.predictions.transform.dense.weight", (HIDDEN, HIDDEN)),
        ("cls.predictions.transform.dense.bias", (HIDDEN,)),
        ("cls.predictions.transform.LayerNorm.weight", (HIDDEN,)),
        ("cls.predictions.transform.LayerNorm.bias", (HIDDEN,)),
    ]
    return out


def config():
    return {
        "architectures": ["BertForMaskedLM"],
        "attention_probs_dropout_prob": 0.1,
        "classifier_dropout": None,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": HIDDEN,
        "initializer_range": 0.02,
        "intermediate_size": INTERMEDIATE,
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": POSITIONS,
        "model_type": "bert",
        "num_attention_heads": HEADS,
        "num_hidden_layers": LAYERS,
        "pad_token_id": 0,
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
        "transformers_version": "4.44.2",
        "type_vocab_size": TYPES,
        "use_cache": True,
        "vocab_size": VOCAB,
    }


def main(argv):
    out_dir = argv[1] if len(argv) > 1 else os.path.join("bench", "out", "bert-base")
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(SEED)
    tensors = {}
    for name, shape in shapes():
        tensors[name] = rng.standard_normal(shape, dtype=np.float32) * np.float32(0.02)
    weights = os.path.join(out_dir, "model.safetensors")
    save_file(tensors, weights, metadata={"format": "pt"})
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(config(), f, indent=2, sort_keys=True)
        f.write("\n")
    n_params = sum(a.size for a in tensors.values())
    n_bytes = sum(a.nbytes for a in tensors.values())
    print(f"wrote {weights}: {len(tensors)} tensors, {n_params} parameters, {n_bytes} bytes")


if __name__ == "__main__":
    main(sys.argv)
