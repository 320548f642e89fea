// zlib (Debian: zlib1g-dev, which libhdf5-dev depends on; libhdf5's deflate
// filter is built on it). ckpt uses it only to measure what an HDF5 chunk
// inflates to before libhdf5 inflates it (Sources/Formats/HDF5/HDF5Inflate.swift).
#include <zlib.h>

// inflateInit is a macro over inflateInit_, which Swift cannot import.
static inline int ckpt_inflateInit(z_streamp stream) { return inflateInit(stream); }
