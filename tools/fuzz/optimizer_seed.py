"""A small optimizer.safetensors seed for the trainer-state harness, cut from one
a run wrote (all of it is over the fuzzers' input size): the moments of the word
embeddings and every moment of at most 1 KiB, with their values, shapes and the
file's metadata as written. Standard library only.
Usage: python3 tools/fuzz/optimizer_seed.py IN OUT"""
import json
import struct
import sys


def main(src, dst):
    with open(src, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    out_header = {"__metadata__": header["__metadata__"]} if "__metadata__" in header else {}
    chunks = []
    offset = 0
    for name in sorted(k for k in header if k != "__metadata__"):
        info = header[name]
        start, end = info["data_offsets"]
        if end - start > 1024 and "word_embeddings" not in name:
            continue
        out_header[name] = {"dtype": info["dtype"], "shape": info["shape"], "data_offsets": [offset, offset + end - start]}
        chunks.append(body[start:end])
        offset += end - start
    text = json.dumps(out_header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(dst, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
