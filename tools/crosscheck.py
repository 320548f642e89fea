#!/usr/bin/env python3
"""Cross-check ckpt's outputs with the reference readers.

`make test` runs this after `swift test`. It converts the committed fixtures
with the built `ckpt` binary, then reads every output with independent tools
and compares the values with the source:

  * h5py reads each ckpt-hdf5 store (f32, f16 and bf16 stores; bf16 is read as
    uint16 bits, as the store layout says) and the files under /files;
  * h5dump (the HDF5 command-line tool) dumps tensors as raw little-endian
    bytes, which must equal the source bytes;
  * the safetensors library opens each safetensors output, single and sharded.

Needs numpy, h5py, safetensors, xxhash, tokenizers and transformers (pip; no torch) and h5dump (Debian: hdf5-tools).
Prints one line per check and closes with "crosscheck: N passed, M failed".

Usage: python3 tools/crosscheck.py --ckpt .build/debug/ckpt
"""

import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

import h5py
import numpy as np
import safetensors
from safetensors.numpy import load_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "Tests", "Fixtures")

passed = 0
failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"{name} OK")
    else:
        failed += 1
        print(f"{name} FAILED {detail}")


def read_safetensors_raw(path):
    """name -> (dtype string, shape, raw bytes), straight from the file layout."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        out[name] = (info["dtype"], info["shape"], data[8 + n + b : 8 + n + e])
    return out


def source_tensors(model_dir):
    tensors = {}
    index = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(index):
        files = sorted(set(json.load(open(index))["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    for f in files:
        tensors.update(read_safetensors_raw(os.path.join(model_dir, f)))
    return tensors


def f32_to_bf16_bits(a):
    u = a.astype(np.float32).view(np.uint32).astype(np.uint64)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    return r


def run(ckpt, *args):
    r = subprocess.run([ckpt, *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"ckpt {' '.join(args)} failed: {r.stderr}")
    return r.stdout


def check_h5(path, source, cast, label):
    """Every dataset under /tensors has the source's values in the expected type."""
    with h5py.File(path, "r") as f:
        check(f"{label} root attributes", f.attrs["format"] == "ckpt-hdf5" and int(f.attrs["format_version"]) == 1)
        seen = {}

        def visit(_, obj):
            if isinstance(obj, h5py.Dataset):
                seen[obj.attrs["name"]] = obj

        f["tensors"].visititems(visit)
        check(f"{label} tensor names", set(seen) == set(source), f"{sorted(set(source) ^ set(seen))[:5]}")
        bad = []
        for name, (dtype, shape, raw) in source.items():
            ds = seen.get(name)
            if ds is None:
                continue
            src = np.frombuffer(raw, dtype=np.float32).reshape(shape) if dtype == "F32" else None
            got = ds[()]
            if cast == "keep":
                ok = got.dtype == np.float32 and got.tobytes() == raw
            elif cast == "f16":
                ok = got.dtype == np.float16 and np.array_equal(got, src.astype(np.float16))
            elif cast == "bf16":
                ok = ds.attrs.get("dtype") == "bfloat16" and got.dtype == np.uint16 and np.array_equal(got, f32_to_bf16_bits(src))
            if not ok:
                bad.append(name)
        check(f"{label} values ({cast}, {len(source)} tensors)", not bad, f"{bad[:3]}")
        return {n: f["files"][n][()].tobytes() for n in f["files"]} if "files" in f else {}


def check_h5dump(path, source, label):
    bad = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (dtype, shape, raw) in sorted(source.items())[:12]:
            dpath = "/tensors/" + name.replace(".", "/")
            out = os.path.join(tmp, "d.bin")
            r = subprocess.run(["h5dump", "-d", dpath, "-b", "LE", "-o", out, path], capture_output=True)
            if r.returncode != 0 or open(out, "rb").read() != raw:
                bad.append(name)
    check(f"{label} h5dump raw bytes (12 tensors)", not bad, f"{bad[:3]}")


def check_safetensors(path_or_dir, source, label):
    if os.path.isdir(path_or_dir):
        index = os.path.join(path_or_dir, "model.safetensors.index.json")
        if os.path.exists(index):
            weight_map = json.load(open(index))["weight_map"]
            files = sorted(set(weight_map.values()))
            check(f"{label} index covers every tensor", set(weight_map) == set(source))
        else:
            files = ["model.safetensors"]
        paths = [os.path.join(path_or_dir, f) for f in files]
    else:
        paths = [path_or_dir]
    got = {}
    for p in paths:
        with safetensors.safe_open(p, framework="np") as f:
            check(f"{label} {os.path.basename(p)} metadata", f.metadata() is not None and f.metadata().get("format") == "pt")
        got.update(load_file(p))
    bad = [n for n, (d, s, raw) in source.items() if n not in got or got[n].tobytes() != raw]
    check(f"{label} safetensors values ({len(got)} tensors)", not bad and len(got) == len(source), f"{bad[:3]}")


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def masked(crc):
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def tfrecords(path):
    """TFRecord payloads, each framing CRC checked (as TensorBoard's reader does)."""
    data = open(path, "rb").read()
    pos, out = 0, []
    while pos < len(data):
        header = data[pos:pos + 8]
        (length,) = struct.unpack("<Q", header)
        (hcrc,) = struct.unpack("<I", data[pos + 8:pos + 12])
        payload = data[pos + 12:pos + 12 + length]
        (pcrc,) = struct.unpack("<I", data[pos + 12 + length:pos + 16 + length])
        if hcrc != masked(crc32c(header)) or pcrc != masked(crc32c(payload)):
            raise ValueError(f"{path}: bad CRC at byte {pos}")
        out.append(payload)
        pos += 16 + length
    return out


def scalar_tags(payload):
    """The simple_value tags of an Event's Summary (protobuf field 5)."""
    tags, pos = [], 0

    def varint(buf, i):
        shift = value = 0
        while True:
            b = buf[i]; i += 1
            value |= (b & 0x7F) << shift; shift += 7
            if b < 0x80:
                return value, i

    def fields(buf):
        i = 0
        while i < len(buf):
            key, i = varint(buf, i)
            num, wire = key >> 3, key & 7
            if wire == 0:
                v, i = varint(buf, i)
            elif wire == 1:
                v, i = buf[i:i + 8], i + 8
            elif wire == 5:
                v, i = buf[i:i + 4], i + 4
            else:
                n, i = varint(buf, i)
                v, i = buf[i:i + n], i + n
            yield num, v

    for num, v in fields(payload):
        if num == 5:
            for n2, value in fields(v):
                if n2 == 1:
                    tags += [t.decode() for n3, t in fields(value) if n3 == 1]
    return tags


def check_training(ckpt, tmp):
    corpus = os.path.join(tmp, "corpus.txt")
    with open(corpus, "w") as f:
        for i in range(60):
            f.write(f"the cat sat on the mat {i % 7}. we read the token!\n")
    out = os.path.join(tmp, "train-out")
    run(ckpt, "train", "--model", os.path.join(FIXTURES, "model-goldens", "bert-gelu"), "--corpus", corpus, "--out", out,
        "--eval-ratio", "0.1", "--max-steps", "6", "--save-steps", "3", "--eval-steps", "3", "--logging-steps", "1")
    from safetensors.numpy import load_file
    final = load_file(os.path.join(out, "final", "model.safetensors"))
    original = load_file(os.path.join(FIXTURES, "model-goldens", "bert-gelu", "model.safetensors"))
    check("train final model: the tensor names transformers wrote", sorted(final) == sorted(original))
    check("train final model: f32, shapes kept", all(final[k].dtype == np.float32 and final[k].shape == original[k].shape for k in final))
    opt = load_file(os.path.join(out, "checkpoint-6", "optimizer.safetensors"))
    check("train optimizer state: exp_avg and exp_avg_sq per parameter", len(opt) == 2 * 42 and all(np.isfinite(v).all() for v in opt.values()))
    state = json.load(open(os.path.join(out, "checkpoint-6", "trainer_state.json")))
    check("train trainer_state.json", state["global_step"] == 6 and state["optimizer_step"] == 6 and state["run"]["batch_size"] == 8)
    runs = os.listdir(os.path.join(out, "runs"))
    records = tfrecords(os.path.join(out, "runs", runs[0]))
    tags = [t for r in records for t in scalar_tags(r)]
    check("train TensorBoard events: CRCs and tags", len(runs) == 1 and records[0].find(b"brain.Event:2") >= 0
          and tags.count("train/loss") == 6 and tags.count("train/lr") == 6 and "eval/perplexity" in tags, f"{tags}")
    metrics = [json.loads(l) for l in open(os.path.join(out, "metrics.jsonl"))]
    check("train metrics.jsonl", [m["step"] for m in metrics if "loss" in m] == [1, 2, 3, 4, 5, 6]
          and any("eval_perplexity" in m for m in metrics))
    check_token_cache(ckpt, corpus, os.path.join(out, "cache"))


def check_token_cache(ckpt, corpus, cache_dir):
    """The token cache `ckpt train` wrote: a safetensors file that the
    safetensors library reads, whose XXH64 (python-xxhash) matches its metadata
    and whose examples are `ckpt tokenize`'s ids of each line."""
    import xxhash
    from safetensors import safe_open
    names = [n for n in os.listdir(cache_dir) if n.startswith("tokens-")]
    check("token cache: one file", len(names) == 1, f"{names}")
    path = os.path.join(cache_dir, names[0])
    with safe_open(path, "np") as f:
        meta = f.metadata()
        ids, offsets = f.get_tensor("ids"), f.get_tensor("offsets")
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    check("token cache: data starts on a page", 8 + n == 4096)
    check("token cache: XXH64 of the data section (python-xxhash)",
          xxhash.xxh64(data[4096:]).hexdigest() == meta["checksum"], f"{meta}")
    check("token cache: u16 ids, offsets index", ids.dtype == np.uint16 and offsets.dtype == np.uint64
          and offsets[0] == 0 and offsets[-1] == len(ids) and int(meta["examples"]) == len(offsets) - 1)
    lines = [json.loads(l)["ids"] for l in run(ckpt, "tokenize", os.path.join(FIXTURES, "model-goldens", "bert-gelu"),
                                                  "--file", corpus, "--json").splitlines()]
    cached = [ids[offsets[i]:offsets[i + 1]].tolist() for i in range(len(offsets) - 1)]
    check("token cache: each line's ids as ckpt tokenize gives them", cached == lines)


def check_train_tokenizer(ckpt, tmp):
    """Tokenizers `ckpt train-tokenizer` wrote load in `tokenizers`, in
    transformers' AutoTokenizer and (WordPiece) the slow BertTokenizer from
    vocab.txt, and all of them encode as `ckpt tokenize` does."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    import warnings
    warnings.filterwarnings("ignore")
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer, BertTokenizer
    corpus = os.path.join(FIXTURES, "tokenizer-training", "corpus.txt")
    texts = [l.rstrip("\n") for l in open(corpus, encoding="utf-8")][:40] + [
        "Le café est très chaud.", "東京は日本の首都です。", "naïve Straße  x", "  leading and trailing  ", "a <mask> here"]
    sample = os.path.join(tmp, "tokenizer-texts.txt")
    with open(sample, "w", encoding="utf-8") as f:
        f.write("\n".join(texts) + "\n")
    runs = {"wordpiece": ["--vocab-size", "500"], "bpe": ["--vocab-size", "600", "--type", "bpe"],
            "from-bert": ["--vocab-size", "700", "--from", os.path.join(FIXTURES, "tokenizer-goldens", "bert-uncased")],
            "from-roberta": ["--vocab-size", "800", "--from", os.path.join(FIXTURES, "tokenizer-goldens", "bpe-bytelevel")]}
    for name, args in runs.items():
        out = os.path.join(tmp, f"tok-{name}")
        run(ckpt, "train-tokenizer", corpus, "--out", out, *args)
        ours = [json.loads(l)["ids"] for l in run(ckpt, "tokenize", out, "--file", sample, "--json").splitlines()]
        fast = Tokenizer.from_file(os.path.join(out, "tokenizer.json"))
        check(f"train-tokenizer {name}: tokenizers encodes as ckpt", [e.ids for e in fast.encode_batch(texts)] == ours)
        auto = AutoTokenizer.from_pretrained(out)
        check(f"train-tokenizer {name}: AutoTokenizer ({type(auto).__name__}) encodes as ckpt",
              [auto(t)["input_ids"] for t in texts] == ours)
        if os.path.exists(os.path.join(out, "vocab.txt")):
            slow = BertTokenizer(os.path.join(out, "vocab.txt"), do_lower_case=True)
            check(f"train-tokenizer {name}: BertTokenizer built from vocab.txt alone encodes as ckpt",
                  [slow(t)["input_ids"] for t in texts] == ours)

    # extend-tokenizer: the extended files encode in tokenizers and transformers as
    # in ckpt, old tokens keep their ids, and no text gets longer.
    domain = os.path.join(ROOT, "samples", "corpus", "python-docs.txt")
    bases = {"wordpiece": os.path.join(FIXTURES, "tokenizer-goldens", "bert-uncased"),
             "bpe": os.path.join(FIXTURES, "tokenizer-training", "bpe")}
    for name, base in bases.items():
        out = os.path.join(tmp, f"ext-{name}")
        run(ckpt, "extend-tokenizer", base, "--corpus", domain, "--add", "60", "--out", out)
        ours = [json.loads(l)["ids"] for l in run(ckpt, "tokenize", out, "--file", sample, "--json").splitlines()]
        fast = Tokenizer.from_file(os.path.join(out, "tokenizer.json"))
        check(f"extend-tokenizer {name}: tokenizers encodes as ckpt", [e.ids for e in fast.encode_batch(texts)] == ours)
        auto = AutoTokenizer.from_pretrained(out)
        check(f"extend-tokenizer {name}: AutoTokenizer encodes as ckpt", [auto(t)["input_ids"] for t in texts] == ours)
        old = Tokenizer.from_file(os.path.join(base, "tokenizer.json")).get_vocab()
        new = fast.get_vocab()
        check(f"extend-tokenizer {name}: old ids kept, 60 tokens appended",
              all(new.get(k) == v for k, v in old.items()) and len(new) == len(old) + 60)
        longer = [json.loads(l)["ids"] for l in run(ckpt, "tokenize", out, "--file", domain, "--json").splitlines()]
        shorter = [json.loads(l)["ids"] for l in run(ckpt, "tokenize", base, "--file", domain, "--json").splitlines()]
        check(f"extend-tokenizer {name}: no line of the domain corpus longer, fewer tokens in all",
              all(len(a) <= len(b) for a, b in zip(longer, shorter)) and sum(map(len, longer)) < sum(map(len, shorter)))


def check_resize(ckpt, tmp):
    from safetensors.numpy import load_file
    src_dir = os.path.join(FIXTURES, "model-goldens", "bert-gelu-new-untied")
    tok_dir = os.path.join(FIXTURES, "resize", "domain-tokenizer")
    out = os.path.join(tmp, "resized")
    run(ckpt, "resize-vocab", src_dir, "--tokenizer", tok_dir, "--out", out)
    old, new = load_file(os.path.join(src_dir, "model.safetensors")), load_file(os.path.join(out, "model.safetensors"))
    old_vocab = json.load(open(os.path.join(src_dir, "tokenizer.json")))["model"]["vocab"]
    new_vocab = json.load(open(os.path.join(tok_dir, "tokenizer.json")))["model"]["vocab"]
    cfg = json.load(open(os.path.join(out, "config.json")))
    check("resize: config vocab_size is the tokenizer's size", cfg["vocab_size"] == len(new_vocab) and cfg["pad_token_id"] == new_vocab["[PAD]"])
    check("resize: same tensor names as the transformers-written source", sorted(old) == sorted(new))
    vocab_names = ["bert.embeddings.word_embeddings.weight", "cls.predictions.decoder.weight", "cls.predictions.decoder.bias"]
    check("resize: vocabulary tensors have a row per token", all(new[n].shape[0] == len(new_vocab) for n in vocab_names))
    same = [(i, old_vocab[t]) for t, i in new_vocab.items() if t in old_vocab]
    check(f"resize: {len(same)} rows copied by token string", all(np.array_equal(new[n][i], old[n][j]) for n in vocab_names for i, j in same))
    check("resize: other tensors unchanged", all(np.array_equal(new[n], old[n]) for n in old if n not in vocab_names + ["cls.predictions.bias"]))
    tok_files = sorted(f for f in os.listdir(out) if f.startswith("tokenizer") or f == "special_tokens_map.json" or f == "vocab.txt")
    check("resize: the new tokenizer's files", all(open(os.path.join(out, f), "rb").read() == open(os.path.join(tok_dir, f), "rb").read()
                                                   for f in tok_files if os.path.exists(os.path.join(tok_dir, f))) and "tokenizer.json" in tok_files)


def check_trim(ckpt, tmp):
    """`ckpt trim-vocab` of the tiny XLM-RoBERTa: the trimmed tokenizer.json
    read by `tokenizers` encodes the corpus to the same tokens as the original;
    every kept row equals the source row of the same piece; the pad id stays."""
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer as HFTokenizer
    src = os.path.join(FIXTURES, "model-goldens", "xlm-roberta")
    texts = json.load(open(os.path.join(FIXTURES, "unigram-goldens", "texts.json")))
    lines = [t for t in texts if t and not any(c in t for c in "\n\r\x00\x85\u2028\u2029")][:150]
    corpus = os.path.join(tmp, "trim-corpus.txt")
    with open(corpus, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    out = os.path.join(tmp, "trimmed")
    run(ckpt, "trim-vocab", src, "--corpus", corpus, "--out", out)
    old_tok = HFTokenizer.from_file(os.path.join(src, "tokenizer.json"))
    new_tok = HFTokenizer.from_file(os.path.join(out, "tokenizer.json"))
    same = all(old_tok.encode(t).tokens == new_tok.encode(t).tokens and old_tok.encode(t).offsets == new_tok.encode(t).offsets for t in lines)
    check(f"trim-vocab: tokenizers encodes {len(lines)} corpus lines with the trimmed tokenizer.json as with the original", same)
    check("trim-vocab: fewer pieces, <pad> still id 1, <mask> last",
          new_tok.get_vocab_size() < old_tok.get_vocab_size() and new_tok.token_to_id("<pad>") == 1
          and new_tok.token_to_id("<mask>") == new_tok.get_vocab_size() - 1)
    old, new = load_file(os.path.join(src, "model.safetensors")), load_file(os.path.join(out, "model.safetensors"))
    name = "roberta.embeddings.word_embeddings.weight"
    rows = [(new_tok.token_to_id(p), old_tok.token_to_id(p)) for p in new_tok.get_vocab()]
    check(f"trim-vocab: {len(rows)} rows equal the source rows of their pieces",
          all(np.array_equal(new[name][i], old[name][j]) and new["lm_head.bias"][i] == old["lm_head.bias"][j] for i, j in rows))
    cfg = json.load(open(os.path.join(out, "config.json")))
    check("trim-vocab: config vocab_size and pad_token_id", cfg["vocab_size"] == new_tok.get_vocab_size() and cfg["pad_token_id"] == 1)


def check_tasks(ckpt, tmp):
    """Task outputs read by other tools: `ckpt embed --format npy` by numpy
    against sentence-transformers' embeddings, and a classifier's eval report."""
    goldens = os.path.join(FIXTURES, "task-goldens")
    texts = json.load(open(os.path.join(goldens, "embedding_texts.json")))["texts"]
    from safetensors.numpy import load_file
    expected = load_file(os.path.join(goldens, "embeddings.safetensors"))
    for name in ("st-mean-norm", "st-max"):
        # One text per line: the texts without line ends inside.
        kept = [i for i, t in enumerate(texts) if "\n" not in t and "\r" not in t]
        path = os.path.join(tmp, f"{name}.txt")
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(texts[i] for i in kept) + "\n")
        out = os.path.join(tmp, f"{name}.npy")
        run(ckpt, "embed", os.path.join(goldens, name), "--file", path, "--format", "npy", "--out", out)
        got = np.load(out)
        want = expected[name][kept]
        cos = (got * want).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(want, axis=1)
        check(f"embed {name}: numpy reads the .npy, sentence-transformers' vectors (cosine > 0.99999)",
              got.dtype == np.float32 and got.shape == want.shape and cos.min() > 0.99999, f"{got.shape} {cos.min()}")
    # bert-single's labels are l0, l1, l2.
    import csv
    rows = list(csv.DictReader(open(os.path.join(goldens, "e2e", "classification.csv"), encoding="utf-8")))
    names = {"animal": "l0", "plant": "l1", "vehicle": "l2"}
    data = os.path.join(tmp, "eval.csv")
    with open(data, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        w.writerows([r["text"], names[r["label"]]] for r in rows)
    report = json.loads(run(ckpt, "eval", os.path.join(goldens, "bert-single"), "--data", data, "--json"))
    check("eval --json: scikit-learn's keys and a confusion matrix", all(k in report for k in ("accuracy", "f1_macro", "f1_weighted"))
          and sum(map(sum, report["confusion_matrix"])) == 40)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", required=True)
    args = ap.parse_args()
    ckpt = os.path.abspath(args.ckpt)

    with tempfile.TemporaryDirectory() as tmp:
        for model in ["bert-tied", "bert-untied", "distilbert-tied", "bert-sharded"]:
            src_dir = os.path.join(FIXTURES, model)
            source = source_tensors(src_dir)
            out = lambda name: os.path.join(tmp, f"{model}-{name}")

            run(ckpt, "convert", src_dir, out("f32.h5"))
            files = check_h5(out("f32.h5"), source, "keep", f"{model} h5")
            for fname, content in files.items():
                check(f"{model} h5 /files/{fname}", content == open(os.path.join(src_dir, fname), "rb").read())
            check_h5dump(out("f32.h5"), source, f"{model} h5")

            run(ckpt, "convert", src_dir, out("f16.h5"), "--dtype", "f16")
            check_h5(out("f16.h5"), source, "f16", f"{model} f16 h5")
            run(ckpt, "convert", src_dir, out("bf16.h5"), "--dtype", "bf16")
            check_h5(out("bf16.h5"), source, "bf16", f"{model} bf16 h5")

            run(ckpt, "convert", out("f32.h5"), out("back.safetensors"))
            check_safetensors(out("back.safetensors"), source, f"{model} h5->safetensors")
            run(ckpt, "convert", out("f32.h5"), out("sharded"), "--shard-size", "25KB")
            check_safetensors(out("sharded"), source, f"{model} sharded")

            info = json.loads(run(ckpt, "inspect", out("f32.h5"), "--json"))
            check(f"{model} inspect of the h5 store", info["format"] == "ckpt-hdf5" and len(info["tensors"]) == len(source))

        check_training(ckpt, tmp)
        check_resize(ckpt, tmp)
        check_trim(ckpt, tmp)
        check_train_tokenizer(ckpt, tmp)
        check_tasks(ckpt, tmp)

    print(f"crosscheck: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
