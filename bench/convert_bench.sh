#!/usr/bin/env bash
# Conversion benchmark: ckpt against cp and the obvious Python (h5py +
# safetensors) route on a BERT-base-sized checkpoint. Prints Markdown to stdout.
#
#   bash bench/convert_bench.sh
#
# Environment:
#   CKPT      ckpt binary to measure (default: build .build-bench/release/ckpt)
#   PYTHON    Python interpreter (default: python3)
#   RUNS      timed runs per row, best kept (default: 3; one warm-up run first)
#   BENCH_DIR working directory (default: bench/out)
#
# Every timed run starts with the destination removed and dirty pages flushed
# (`sync`), so no run pays for the previous one's writeback. The page cache is
# not dropped: sources are warm (read from memory, not from disk).
set -euo pipefail

NPROC=$(nproc)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PYTHON=${PYTHON:-python3}
RUNS=${RUNS:-3}
BENCH_DIR=${BENCH_DIR:-bench/out}
MODEL_DIR=$BENCH_DIR/bert-base
SRC=$MODEL_DIR/model.safetensors
WORK=$BENCH_DIR/convert
TIME=/usr/bin/time

# Same thread count for everyone: ckpt converts on one thread.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

if [[ ! -x $TIME ]]; then
    echo "installing GNU time for peak RSS" >&2
    apt-get install -y time >&2
fi
if [[ -z ${CKPT:-} ]]; then
    echo "building ckpt (release, .build-bench)" >&2
    swift build -c release --scratch-path .build-bench >&2
    CKPT=$ROOT/.build-bench/release/ckpt
fi
if [[ ! -f $SRC ]]; then
    echo "generating $MODEL_DIR" >&2
    "$PYTHON" bench/make_bert_base.py "$MODEL_DIR" >&2
fi
rm -rf "$WORK"
mkdir -p "$WORK"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# Tensor bytes (the throughput numerator) and the largest tensor, from the header.
read -r TENSOR_BYTES LARGEST_BYTES LARGEST_NAME < <("$PYTHON" - "$SRC" <<'EOF'
import json, struct, sys
with open(sys.argv[1], "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    h = json.loads(f.read(n))
h.pop("__metadata__", None)
sizes = {k: v["data_offsets"][1] - v["data_offsets"][0] for k, v in h.items()}
big = max(sizes, key=sizes.get)
print(sum(sizes.values()), sizes[big], big)
EOF
)

# measure LABEL OUTPUT -- CMD...: one warm-up, then RUNS timed runs.
# Appends "label|best seconds|max peak RSS KiB" to $WORK/results.
measure() {
    local label=$1 out=$2; shift 3
    local best="" rss=0 i t0 t1 secs kb
    for ((i = 0; i <= RUNS; i++)); do
        rm -rf "$out"
        sync
        t0=$(date +%s%N)
        $TIME -f "%M" -o "$WORK/time.txt" "$@" >/dev/null
        t1=$(date +%s%N)
        ((i == 0)) && continue
        secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
        kb=$(tail -n 1 "$WORK/time.txt")
        if [[ -z $best ]] || awk -v a="$secs" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$secs; fi
        ((kb > rss)) && rss=$kb
    done
    echo "$label|$best|$rss" >>"$WORK/results"
    echo "  $label: ${best}s, ${rss} KiB" >&2
}

# then_fsync DST CMD...: runs CMD, then fsyncs DST, as ckpt fsyncs its output
# before renaming it into place (cp and h5py do not).
then_fsync() { local dst=$1; shift; "$@" && sync "$dst"; }
export -f then_fsync

echo "measuring (best of $RUNS after one warm-up run)" >&2
: >"$WORK/results"
measure "cp" "$WORK/copy.safetensors" -- cp "$SRC" "$WORK/copy.safetensors"
measure "cp + fsync" "$WORK/copy.safetensors" -- bash -c 'then_fsync "$@"' _ "$WORK/copy.safetensors" cp "$SRC" "$WORK/copy.safetensors"
measure "ckpt: safetensors → h5" "$WORK/x.h5" -- "$CKPT" convert "$SRC" "$WORK/x.h5"
measure "Python: safetensors → h5" "$WORK/py.h5" -- "$PYTHON" bench/python_convert.py st2h5 "$SRC" "$WORK/py.h5"
measure "Python: safetensors → h5, + fsync" "$WORK/py.h5" -- bash -c 'then_fsync "$@"' _ "$WORK/py.h5" "$PYTHON" bench/python_convert.py st2h5 "$SRC" "$WORK/py.h5"
# All h5 → safetensors rows read the store ckpt wrote (the one left by its last run).
measure "ckpt: h5 → safetensors" "$WORK/y.safetensors" -- "$CKPT" convert "$WORK/x.h5" "$WORK/y.safetensors"
measure "Python: h5 → safetensors" "$WORK/py.safetensors" -- "$PYTHON" bench/python_convert.py h52st "$WORK/x.h5" "$WORK/py.safetensors"
measure "Python: h5 → safetensors, + fsync" "$WORK/py.safetensors" -- bash -c 'then_fsync "$@"' _ "$WORK/py.safetensors" "$PYTHON" bench/python_convert.py h52st "$WORK/x.h5" "$WORK/py.safetensors"
measure "ckpt: safetensors → safetensors bf16" "$WORK/bf16.safetensors" -- "$CKPT" convert --dtype bf16 "$SRC" "$WORK/bf16.safetensors"

# inspect: hyperfine when available, else 20 runs of a loop.
inspect_ms() { # prints "mean_ms stddev_ms"
    if command -v hyperfine >/dev/null; then
        hyperfine -N --warmup 3 --runs 20 --export-json "$WORK/hf.json" "$(printf '%q ' "$@")" >/dev/null 2>&1
        "$PYTHON" -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print("%.1f %.1f" % (r["mean"]*1e3, r["stddev"]*1e3))' "$WORK/hf.json"
    else
        local t0 t1 i
        "$@" >/dev/null
        t0=$(date +%s%N)
        for ((i = 0; i < 20; i++)); do "$@" >/dev/null; done
        t1=$(date +%s%N)
        awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f -\n", (b - a) / 20 / 1e6 }'
    fi
}
read -r INSPECT_ST INSPECT_ST_SD < <(inspect_ms "$CKPT" inspect "$SRC") ||
    { echo "timing failed: inspect" >&2; exit 1; }
read -r INSPECT_H5 INSPECT_H5_SD < <(inspect_ms "$CKPT" inspect "$WORK/x.h5") ||
    { echo "timing failed: inspect" >&2; exit 1; }
cat >"$WORK/py_list.py" <<'EOF'
import sys
from safetensors import safe_open
with safe_open(sys.argv[1], "np") as f:
    for k in f.keys():
        f.get_slice(k).get_shape()
EOF
read -r INSPECT_PY INSPECT_PY_SD < <(inspect_ms "$PYTHON" "$WORK/py_list.py" "$SRC") ||
    { echo "timing failed: inspect" >&2; exit 1; }

# Correctness.
roundtrip=$(cmp -s "$WORK/y.safetensors" "$SRC" && echo "byte-identical" || echo "DIFFERS")
py_roundtrip=$(cmp -s "$WORK/py.safetensors" "$SRC" && echo "byte-identical" || echo "DIFFERS")
"$CKPT" convert "$WORK/py.h5" "$WORK/from-py-h5.safetensors" >/dev/null
from_py_h5=$(cmp -s "$WORK/from-py-h5.safetensors" "$SRC" && echo "byte-identical" || echo "DIFFERS")
bf16_check=$("$PYTHON" - "$SRC" "$WORK/bf16.safetensors" <<'EOF'
# Compares ckpt's bf16 output with round-to-nearest-even computed in numpy.
import json, struct, sys
import numpy as np
def load(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        h = json.loads(f.read(n)); h.pop("__metadata__", None)
        data = f.read()
    return h, data
sh, sd = load(sys.argv[1]); bh, bd = load(sys.argv[2])
bad = [k for k in sh if k not in bh or bh[k]["dtype"] != "BF16" or bh[k]["shape"] != sh[k]["shape"]]
if bad or len(bh) != len(sh):
    print("DIFFERS (names/dtypes/shapes)"); sys.exit()
for k, v in sh.items():
    a, b = v["data_offsets"]
    x = np.frombuffer(sd[a:b], dtype="<u4")
    want = ((x + 0x7FFF + ((x >> 16) & 1)) >> 16).astype("<u2")  # RNE (no NaNs in the data)
    a, b = bh[k]["data_offsets"]
    if not np.array_equal(np.frombuffer(bd[a:b], dtype="<u2"), want):
        print("DIFFERS at " + k); sys.exit()
print("matches numpy round-to-nearest-even")
EOF
)

# Environment.
echo "Machine: $NPROC CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')), $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 2^20 }' /proc/meminfo) RAM, Linux $(uname -r); $WORK is on $(findmnt -n -o FSTYPE,SOURCE -T "$WORK" | awk '{ print $1 " (" $2 ")" }'), mount options $(findmnt -n -o OPTIONS -T "$WORK")."
echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC'). ckpt $("$CKPT" --version) (release build; $(swift --version 2>/dev/null | head -n 1 | sed 's/ (.*//')), libhdf5 $(dpkg-query -W -f '${Version}' libhdf5-dev 2>/dev/null || echo '?'), cp: $(cp --version | head -n 1)."
echo "$("$PYTHON" -c 'import sys, numpy, h5py, safetensors; print("Python %s, numpy %s, h5py %s (HDF5 %s), safetensors %s." % (sys.version.split()[0], numpy.__version__, h5py.__version__, h5py.version.hdf5_version, safetensors.__version__))')"
echo "Load average (1, 5, 15 min) before / after the run: $LOAD_BEFORE / $(cut -d' ' -f1-3 /proc/loadavg)."
echo

# Table.
"$PYTHON" - "$WORK/results" "$TENSOR_BYTES" "$LARGEST_BYTES" "$LARGEST_NAME" \
    "$INSPECT_ST" "$INSPECT_ST_SD" "$INSPECT_H5" "$INSPECT_H5_SD" "$INSPECT_PY" "$INSPECT_PY_SD" "$RUNS" <<'EOF'
import sys
path, tb, lb, lname, ist, istsd, ih5, ih5sd, ipy, ipysd, runs = sys.argv[1:]
tb, lb = int(tb), int(lb)
rows = [l.rstrip("\n").split("|") for l in open(path) if l.strip()]
res = {r[0]: (float(r[1]), int(r[2])) for r in rows}
print(f"Tensor bytes: {tb:,} ({tb/1e6:.1f} MB). Largest tensor: `{lname}`, {lb:,} bytes "
      f"({lb/2**20:.1f} MiB); 2× = {2*lb/2**20:.1f} MiB.")
print()
print(f"| operation | wall time (best of {runs}) | throughput | peak RSS | peak RSS / largest tensor |")
print("|---|---:|---:|---:|---:|")
for label, (secs, kb) in res.items():
    print(f"| {label} | {secs:.3f} s | {tb/1e6/secs:,.0f} MB/s | {kb/1024:,.1f} MiB | {kb*1024/lb:.2f}× |")
sd = lambda s: "" if s == "-" else f" ± {s}"
print(f"| ckpt inspect model.safetensors | {ist} ms{sd(istsd)} (mean of 20) | | | |")
print(f"| ckpt inspect x.h5 | {ih5} ms{sd(ih5sd)} (mean of 20) | | | |")
print(f"| Python: safe_open + every shape | {ipy} ms{sd(ipysd)} (mean of 20) | | | |")
print()
cp, cpf = res["cp"][0], res["cp + fsync"][0]
def tput(label): return tb / res[label][0]
ck = ["ckpt: safetensors → h5", "ckpt: h5 → safetensors"]
worst = min(tput(l) for l in ck)
print("Targets:")
print(f"- ckpt throughput ≥ 0.7 × cp: slowest ckpt conversion {worst/1e6:,.0f} MB/s = "
      f"{worst/(tb/cp):.2f} × cp, {worst/(tb/cpf):.2f} × (cp + fsync) → "
      f"{'met' if worst >= 0.7*tb/cp else 'not met'} against cp, "
      f"{'met' if worst >= 0.7*tb/cpf else 'not met'} against cp + fsync")
ckrss = max(res[l][1] for l in res if l.startswith("ckpt"))
print(f"- ckpt peak RSS < 2 × largest tensor ({2*lb/2**20:.1f} MiB): highest {ckrss/1024:.1f} MiB → "
      f"{'met' if ckrss*1024 < 2*lb else 'not met'}")
print(f"- ckpt inspect < 50 ms: {ist} ms → {'met' if float(ist) < 50 else 'not met'}")
EOF
echo
echo "Correctness:"
echo "- ckpt round trip safetensors → h5 → safetensors: $roundtrip (cmp with the original)"
echo "- Python round trip (ckpt's h5 → safetensors via h5py): $py_roundtrip"
echo "- ckpt reading the h5py-written store → safetensors: $from_py_h5"
echo "- ckpt bf16 output: $bf16_check"
