#!/usr/bin/env python3
"""The obvious Python route between safetensors and HDF5, for comparison.

  python bench/python_convert.py st2h5 SRC.safetensors DST.h5
  python bench/python_convert.py h52st SRC.h5 DST.safetensors

st2h5 reads one tensor at a time with `safe_open(...).get_tensor(name)` and
writes it with `create_dataset(path, data=arr)` in the ckpt-hdf5 layout: every
tensor under /tensors with dots as groups
(`a.b.c` -> /tensors/a/b/c) and the original name in a `name` attribute, plus
the root attributes `format` and `format_version`. h52st reads every dataset
below /tensors into numpy, then writes them all with
`safetensors.numpy.save_file(..., metadata={"format": "pt"})`.

Floating-point and integer tensors only (no bf16: numpy has no such type).
"""

import sys

import h5py
from safetensors import safe_open
from safetensors.numpy import save_file


def st2h5(src, dst):
    with safe_open(src, framework="np") as st, h5py.File(dst, "w") as h5:
        h5.attrs["format"] = "ckpt-hdf5"
        h5.attrs["format_version"] = 1
        root = h5.create_group("tensors")
        for name in st.keys():
            arr = st.get_tensor(name)
            ds = root.create_dataset(name.replace(".", "/"), data=arr)
            ds.attrs["name"] = name


def h52st(src, dst):
    tensors = {}
    with h5py.File(src, "r") as h5:
        def visit(path, obj):
            if isinstance(obj, h5py.Dataset):
                name = obj.attrs.get("name", path.replace("/", "."))
                if isinstance(name, bytes):
                    name = name.decode("utf-8")
                tensors[name] = obj[()]
        h5["tensors"].visititems(visit)
    save_file(tensors, dst, metadata={"format": "pt"})


def main(argv):
    if len(argv) != 4 or argv[1] not in ("st2h5", "h52st"):
        sys.exit(__doc__)
    {"st2h5": st2h5, "h52st": h52st}[argv[1]](argv[2], argv[3])


if __name__ == "__main__":
    main(sys.argv)
