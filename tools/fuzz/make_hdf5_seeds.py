#!/usr/bin/env python3
"""Seeds for the hdf5 fuzz harness that ckpt itself does not write: small
ckpt-hdf5 stores written by h5py in each format HDF5Sanitizer accepts, so the
fuzzer starts from version-2 object headers, compact and creation-ordered
groups, chunked and filtered datasets and attributes of each kind.

Usage: python3 tools/fuzz/make_hdf5_seeds.py OUT_DIR   (needs h5py, numpy)
"""
import os
import sys

import h5py
import numpy as np


def store(path, libver, track_order):
    with h5py.File(path, "w", libver=libver, track_order=track_order) as f:
        f.attrs["format"] = "ckpt-hdf5"
        f.attrs["format_version"] = np.int64(1)
        f.attrs["created_by"] = np.bytes_("make_hdf5_seeds.py")        # a fixed-length string
        g = f.create_group("tensors")
        g.create_dataset("a/weight", data=np.arange(6, dtype=np.float32).reshape(2, 3)).attrs["name"] = "a.weight"
        g.create_dataset("half", data=np.arange(4, dtype=np.float16)).attrs["name"] = "half"
        g.create_dataset("flag", data=np.array([True, False])).attrs["name"] = "flag"
        g.create_dataset("scalar", data=np.float64(2.5)).attrs["name"] = "scalar"
        g.create_dataset("big", data=np.arange(3, dtype=">i4")).attrs["name"] = "big"
        bf = g.create_dataset("bf", data=np.array([0x3F80, 0xC000], dtype=np.uint16))
        bf.attrs["name"] = "bf"
        bf.attrs["dtype"] = "bfloat16"
        g.create_dataset("chunked", data=np.arange(40, dtype=np.int16), chunks=(8,), compression="gzip",
                         shuffle=True, fletcher32=True).attrs["name"] = "chunked"
        f.create_group("files").create_dataset("config.json", data=np.frombuffer(b'{"model_type": "bert"}', dtype=np.uint8))


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    store(os.path.join(out, "h5py-earliest.h5"), "earliest", False)
    store(os.path.join(out, "h5py-v108-ordered.h5"), "v108", True)


if __name__ == "__main__":
    main()
