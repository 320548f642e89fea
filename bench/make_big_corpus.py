"""Writes a plain-text corpus of about SIZE_BYTES (UTF-8, one document per
non-empty line) by mixing public text that Debian packages and Python install on
this machine:

  - docstrings of Python's standard library (modules, public classes, functions
    and methods; PSF license), as make_text_corpus.py but whole paragraphs;
  - text under /usr/share/doc (README, NEWS, changelog, copyright, .txt, .md,
    .rst; .gz decompressed; at most 256 kB from each file, duplicate files once);
  - man pages rendered to plain text by groff (tables by tbl), English and
    the translations installed under /usr/share/man/<lang>/ (google-cloud-cli's
    ~16,600 gcloud pages, not from Debian and nearly all alike, are left out);
  - translated messages (msgstr, 40 characters or more) of the .mo catalogs
    under /usr/share/locale, at most 2,000 characters from each catalog.

Each paragraph becomes one line (whitespace collapsed, split into pieces of at
most 4,000 characters); about 1 % of the source documents are also written
whole as one very long line (up to 200,000 characters). Lines are deduplicated
into a pool, and the pool is written over and over, each repetition in its own
seeded shuffle of line order, until the next line would pass SIZE_BYTES. The
output is streamed (memory is bounded by the pool, not by SIZE_BYTES) and is
deterministic for a given machine (same packages, Python and groff).

usage: make_big_corpus.py OUT SIZE_BYTES
"""
import concurrent.futures, contextlib, gzip, hashlib, importlib, inspect, io, os, pkgutil, random, re, struct, subprocess, sys, time, warnings

MAX_LINE = 4000
LONG_LINE = 200_000
FILE_HEAD = 256 * 1024
MO_HEAD = 2000
SEED = 1234

out, size = sys.argv[1], int(sys.argv[2])
t0 = time.perf_counter()
warnings.simplefilter("ignore")
WS = re.compile(r"\s+")
LETTERS = re.compile(r"[^\W\d_]{3}")


def paragraphs(text):
    """Blank-line separated paragraphs, each as one whitespace-normalised line."""
    for para in re.split(r"\n\s*\n", text):
        line = WS.sub(" ", para).strip()
        if len(line) >= 20 and LETTERS.search(line):
            yield line


def pieces(line):
    """Splits a line into pieces of at most MAX_LINE characters at spaces."""
    while len(line) > MAX_LINE:
        cut = line.rfind(" ", MAX_LINE // 2, MAX_LINE)
        cut = cut if cut > 0 else MAX_LINE
        yield line[:cut]
        line = line[cut:].lstrip()
    if line:
        yield line


pool, seen, counts = [], set(), {}


def add(source, key, text):
    n = 0
    paras = list(paragraphs(text))
    for para in paras:
        for line in pieces(para):
            b = line.encode("utf-8", "replace")
            h = hashlib.blake2b(b, digest_size=12).digest()
            if h not in seen:
                seen.add(h); pool.append(b); n += len(b) + 1
    # about 1 % of the documents also as one very long line (chosen by name)
    if len(paras) > 1 and hashlib.md5(key.encode()).digest()[0] < 3:
        b = " ".join(paras)[:LONG_LINE].encode("utf-8", "replace")
        h = hashlib.blake2b(b, digest_size=12).digest()
        if h not in seen:
            seen.add(h); pool.append(b); n += len(b) + 1
    counts[source] = counts.get(source, 0) + n


def phase(name):
    print(f"pool: {name:26s} done at {time.perf_counter() - t0:5.1f} s", file=sys.stderr, flush=True)


def decode(data, cut=False):
    """UTF-8, else Latin-1; with cut, a character cut at the end is dropped."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        if cut and e.start >= len(data) - 3:
            return decode(data[:e.start])
        return data.decode("latin-1")


# 1. Python standard library docstrings (packages with their submodules, tests left out)
def module_docs(mod):
    docs = [inspect.getdoc(mod) or ""]
    for attr, obj in sorted(vars(mod).items()):
        if attr.startswith("_") or not (inspect.isclass(obj) or inspect.isroutine(obj)):
            continue
        docs.append(inspect.getdoc(obj) or "")
        if inspect.isclass(obj):
            for mattr, m in sorted(vars(obj).items()):
                if not mattr.startswith("_") and inspect.isroutine(m):
                    docs.append(inspect.getdoc(m) or "")
    return "\n\n".join(d for d in docs if d)


names = sorted(n for n in sys.stdlib_module_names if not n.startswith("_") and n not in ("antigravity", "this", "idlelib", "turtledemo", "test"))
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    for name in names:
        try:
            mod = __import__(name)
        except BaseException:
            continue
        mods = [mod]
        subs = []
        try:
            if hasattr(mod, "__path__"):
                subs = sorted(i.name for i in pkgutil.walk_packages(mod.__path__, name + ".", onerror=lambda n: None)
                              if not re.search(r"\.(tests?|__main__)\b|\._", i.name))
        except BaseException:
            pass
        for sub in subs:
            try:
                mods.append(importlib.import_module(sub))
            except BaseException:
                pass
        for m in mods:
            add("python stdlib docstrings", "pydoc:" + m.__name__, module_docs(m))
phase("python stdlib docstrings")

# 2. /usr/share/doc text files
TEXT_EXT = {"", "txt", "md", "rst", "debian", "old"}
SKIP = re.compile(r"^(test_results|status)", re.I)
files_seen = set()
for root, dirs, files in os.walk("/usr/share/doc"):
    dirs.sort()
    for f in sorted(files):
        p = os.path.join(root, f)
        base = f[:-3] if f.endswith(".gz") else f
        ext = base.rsplit(".", 1)[1].lower() if "." in base else ""
        if os.path.islink(p) or ext not in TEXT_EXT or SKIP.match(base) or "google-cloud" in p:
            continue
        try:
            with (gzip.open(p) if f.endswith(".gz") else open(p, "rb")) as fh:
                data = fh.read(FILE_HEAD)
        except (OSError, EOFError):
            continue
        digest = hashlib.blake2b(data, digest_size=16).digest()
        if b"\0" in data or digest in files_seen:
            continue
        files_seen.add(digest)
        add("/usr/share/doc", p, decode(data, cut=len(data) == FILE_HEAD))
phase("/usr/share/doc")

# 3. man pages, rendered by groff (in parallel), one paragraph per line
pages = []
for root, dirs, files in os.walk("/usr/share/man"):
    dirs.sort()
    pages += [os.path.join(root, f) for f in sorted(files) if not f.startswith(("gcloud", "bq.", "gsutil."))]


GROFF = ["groff", "-k", "-t", "-Kutf-8", "-man", "-Tutf8", "-rLL=10000n", "-rHY=0", "-P-cbou"]
MARK = "ZZCKPTPAGEBREAKZZ"


def render(batch):
    """Renders a batch of man pages with one groff run (startup is most of the
    cost of a page); a marker paragraph separates the pages in the output."""
    srcs = []
    for path in batch:
        try:
            with (gzip.open(path) if path.endswith(".gz") else open(path, "rb")) as fh:
                src = fh.read()
        except (OSError, EOFError):
            src = b""
        srcs.append(b"" if os.path.islink(path) or src.startswith(b".so ") else src)
    try:
        r = subprocess.run(GROFF, input=b"".join(s + b"\n.PP\n" + MARK.encode() + b"\n" for s in srcs), capture_output=True,
                           env=dict(os.environ, LC_ALL="C.UTF-8"), timeout=600)
        texts = re.split(r"^[ \t]*" + MARK + r"[ \t]*$", decode(r.stdout), flags=re.M)
    except subprocess.SubprocessError:
        texts = []
    if len(texts) != len(batch) + 1:
        return render_one_by_one(batch) if len(batch) > 1 else [(batch[0], "")]
    # drop the header and footer lines (wide runs of spaces)
    return [(p, "\n".join(l for l in t.splitlines() if "          " not in l.strip())) for p, t in zip(batch, texts)]


def render_one_by_one(batch):
    return [x for p in batch for x in render([p])]


batches = [pages[i:i + 64] for i in range(0, len(pages), 64)]
with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 2) as ex:
    for rendered in ex.map(render, batches):
        for path, text in rendered:
            lang = path.split("/")[4]
            add("man pages (English)" if lang.startswith("man") else "man pages (translations)", path, text)
phase("man pages")

# 4. translated messages of the .mo catalogs, in the catalog's (msgid) order
def mo_strings(mo):
    """The translations (msgstr, first plural form) of a GNU .mo catalog,
    decoded with the charset its header names."""
    if len(mo) < 20 or mo[:4] not in (b"\xde\x12\x04\x95", b"\x95\x04\x12\xde"):
        return
    e = "<" if mo[:4] == b"\xde\x12\x04\x95" else ">"
    try:
        n, orig, trans = struct.unpack(e + "3I", mo[8:20])
        charset = None
        for i in range(n):
            length, off = struct.unpack(e + "2I", mo[trans + 8 * i:trans + 8 * i + 8])
            if off + length > len(mo):
                return
            raw = mo[off:off + length].split(b"\0")[0]
            if i == 0 and struct.unpack(e + "I", mo[orig:orig + 4])[0] == 0:  # the header, msgstr of msgid ""
                m = re.search(rb"charset=([A-Za-z0-9_.:-]+)", raw)
                charset = m and m.group(1).decode("ascii")
                continue
            try:
                yield raw.decode(charset) if charset else decode(raw)
            except (LookupError, UnicodeDecodeError):
                yield decode(raw)
    except struct.error:
        return


for root, dirs, files in os.walk("/usr/share/locale"):
    dirs.sort()
    for f in sorted(files):
        if not f.endswith(".mo"):
            continue
        p = os.path.join(root, f)
        with open(p, "rb") as fh:
            mo = fh.read()
        msgs = []
        for m in mo_strings(mo):
            if len(m) >= 40:
                msgs.append(m)
                if sum(len(x) for x in msgs) >= MO_HEAD:  # about MO_HEAD characters from each catalog
                    break
        add("locale .mo messages", p, "\n\n".join(msgs))
phase("locale .mo messages")
pool_bytes = sum(len(b) + 1 for b in pool)
t_pool = time.perf_counter() - t0
for source, n in counts.items():
    print(f"pool: {source:26s} {n / 1e6:8.1f} MB", file=sys.stderr)
print(f"pool: {len(pool)} lines, {pool_bytes / 1e6:.1f} MB, built in {t_pool:.1f} s", file=sys.stderr)

# Repeat the pool, each pass in its own seeded shuffle, streaming the output.
written = lines = reps = 0
order = list(range(len(pool)))
with open(out, "wb", buffering=1 << 20) as fh:
    done = False
    while not done:
        random.Random(SEED + reps).shuffle(order)
        reps += 1
        chunk, chunk_len = [], 0
        for i in order:
            b = pool[i]
            if written + len(b) + 1 > size:
                done = True
                break
            chunk.append(b); chunk_len += len(b) + 1; written += len(b) + 1; lines += 1
            if chunk_len >= 1 << 22:
                fh.write(b"\n".join(chunk) + b"\n"); chunk, chunk_len = [], 0
        if chunk:
            fh.write(b"\n".join(chunk) + b"\n")
print(f"{out}: {lines} lines, {written} bytes ({reps} passes over the pool) in {time.perf_counter() - t0:.1f} s")
