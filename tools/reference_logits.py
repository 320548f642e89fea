#!/usr/bin/env python3
"""Run a local transformer checkpoint with Hugging Face transformers and save its outputs.

Usage:

    python3 tools/reference_logits.py MODEL_DIR OUT.safetensors \\
        [--text "..."]... [--text-file F] [--max-length N]

MODEL_DIR is a directory as written by `save_pretrained` (config.json, the
weights and the tokenizer files).  Nothing is downloaded: the model and the
tokenizer are loaded from MODEL_DIR only.

The model is loaded with AutoModelForMaskedLM when the "architectures" entry
of config.json names a *ForMaskedLM class, and with AutoModel otherwise.  It
runs in eval mode, in float32, with attn_implementation="eager" (the plain
softmax attention path).

Texts: every --text (repeatable) followed by the lines of --text-file (one
text per line; blank lines are skipped; "-" reads standard input).  Without
either, a built-in set of four English sentences is used, one of which holds
the tokenizer's mask token (when it has one).  The texts are tokenized
together with AutoTokenizer, padding=True (padded to the longest text) and
truncation to --max-length tokens (default: the smaller of the tokenizer's
model_max_length and the model's max_position_embeddings, when known).

OUT.safetensors receives (safetensors.torch.save_file):

    input_ids          I64 [B, T]
    attention_mask     I64 [B, T]
    token_type_ids     I64 [B, T]     only if the tokenizer returns them (they are
                                      passed to the model only if its forward
                                      takes them: DistilBERT does not)
    logits             F32 [B, T, V]  masked-LM models
    last_hidden_state  F32 [B, T, H]  other (base) models

with metadata {"format": "pt", "model": <basename of MODEL_DIR>,
"texts": <JSON list of the texts>}.

Example:

    python3 tools/reference_logits.py Tests/Fixtures/model-goldens/bert-gelu /tmp/bert-gelu.safetensors \\
        --text "the cat sat on the [MASK] ." --max-length 16
"""

import argparse
import inspect
import json
import os
import sys

import torch

import transformers
from safetensors.torch import save_file
from transformers import AutoConfig, AutoModel, AutoModelForMaskedLM, AutoTokenizer

DEFAULT_TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "Paris is the {mask} of France.",
    "A checkpoint stores the weights of a trained network.",
    "Hello world!",
]

# Sequence lengths beyond this are treated as "no limit" (tokenizers without a
# configured maximum report a huge model_max_length).
_NO_LIMIT = 1_000_000


def parse_args(argv):
    ap = argparse.ArgumentParser(
        description="Run a local transformers checkpoint on some texts and save inputs and outputs "
                    "(logits or last_hidden_state) to a safetensors file.")
    ap.add_argument("model_dir", metavar="MODEL_DIR", help="directory written by save_pretrained")
    ap.add_argument("out", metavar="OUT.safetensors", help="output file")
    ap.add_argument("--text", action="append", default=[], help="input text (repeatable)")
    ap.add_argument("--text-file", metavar="F", help="file with one text per line ('-' for stdin)")
    ap.add_argument("--max-length", metavar="N", type=int, help="truncate every text to N tokens")
    return ap.parse_args(argv)


def read_texts(args, tokenizer):
    texts = list(args.text)
    if args.text_file:
        if args.text_file == "-":
            lines = sys.stdin.read().splitlines()
        else:
            with open(args.text_file, encoding="utf-8") as f:
                lines = f.read().splitlines()
        texts += [line for line in lines if line.strip()]
    if texts:
        return texts
    mask = tokenizer.mask_token or "capital"
    return [t.replace("{mask}", mask) for t in DEFAULT_TEXTS]


def is_masked_lm(config):
    return any(a.endswith("ForMaskedLM") for a in (getattr(config, "architectures", None) or []))


def default_max_length(tokenizer, config):
    limits = []
    if tokenizer.model_max_length and tokenizer.model_max_length < _NO_LIMIT:
        limits.append(int(tokenizer.model_max_length))
    positions = getattr(config, "max_position_embeddings", None)
    if positions:
        limits.append(int(positions))
    return min(limits) if limits else None


def main(argv=None):
    args = parse_args(argv)
    model_dir = os.path.abspath(args.model_dir)
    if not os.path.isfile(os.path.join(model_dir, "config.json")):
        sys.exit(f"error: {args.model_dir} has no config.json")
    if args.max_length is not None and args.max_length < 1:
        sys.exit("error: --max-length must be positive")

    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()

    config = AutoConfig.from_pretrained(model_dir, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    mlm = is_masked_lm(config)
    loader = AutoModelForMaskedLM if mlm else AutoModel
    model = loader.from_pretrained(
        model_dir, local_files_only=True, attn_implementation="eager", dtype=torch.float32)
    model.eval()

    texts = read_texts(args, tokenizer)
    max_length = args.max_length or default_max_length(tokenizer, config)
    enc = tokenizer(
        texts,
        padding=True,
        truncation=max_length is not None,
        max_length=max_length,
        return_tensors="pt",
    )

    tensors = {}
    for name in ("input_ids", "attention_mask", "token_type_ids"):
        if name in enc:
            tensors[name] = enc[name].to(torch.int64).contiguous()

    accepted = inspect.signature(model.forward).parameters
    model_inputs = {k: v for k, v in tensors.items() if k in accepted}
    ignored = sorted(set(tensors) - set(model_inputs))
    with torch.no_grad():
        out = model(**model_inputs)
    if mlm:
        tensors["logits"] = out.logits.to(torch.float32).contiguous()
    else:
        tensors["last_hidden_state"] = out.last_hidden_state.to(torch.float32).contiguous()

    metadata = {
        "format": "pt",
        "model": os.path.basename(model_dir.rstrip(os.sep)),
        "texts": json.dumps(texts, ensure_ascii=False),
    }
    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    save_file(tensors, args.out, metadata=metadata)

    print(f"{metadata['model']}: {type(model).__name__} "
          f"(attn={model.config._attn_implementation}, dtype=float32), {len(texts)} texts")
    lengths = tensors["attention_mask"].sum(dim=1).tolist()
    for text, n in zip(texts, lengths):
        print(f"  {n:4d} tokens  {text}")
    for name, t in tensors.items():
        note = "  (saved, not used by the model)" if name in ignored else ""
        print(f"  {name:18s} {str(t.dtype).replace('torch.', ''):8s} {list(t.shape)}{note}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
