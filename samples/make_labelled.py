#!/usr/bin/env python3
"""Writes samples/corpus/python-docs-train.csv and python-docs-test.csv: a
labelled text-classification task built from samples/corpus/python-docs.txt.
Each row (columns text,label) is one line of python-docs.txt, unchanged, and
its label is the chapter of the Python 3.11 Library Reference that documents
the module the paragraph came from ("File and Directory Access", "Development
Tools", ...). The text is the Python Software Foundation's, under the PSF
License Version 2; the labels are the chapter structure of the Library
Reference (see samples/corpus/NOTICE.md).

The module of each line is found by re-running make_corpus.py's extraction
with the module recorded; run it with the Python that wrote python-docs.txt:

    python3 samples/make_labelled.py

The chapters with the most paragraphs are kept (at most KEEP, each with at
least MIN_PER_CLASS), each capped at CAP paragraphs by seeded sampling, and
split stratified and seeded, about TEST_SHARE of each chapter going to test.
"""
import collections, csv, importlib, inspect, os, pkgutil, random, sys, warnings

warnings.simplefilter("ignore")
HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus", "python-docs.txt")
TRAIN = os.path.join(HERE, "corpus", "python-docs-train.csv")
TEST = os.path.join(HERE, "corpus", "python-docs-test.csv")
SEED = 20231
KEEP = 7              # chapters kept, the largest first
MIN_PER_CLASS = 150   # a smaller chapter is dropped even when fewer than KEEP are kept
CAP = 600             # paragraphs per chapter at most
TEST_SHARE = 0.2

# The chapters of "The Python Standard Library" for Python 3.11 and the modules
# each documents, as listed by the library index,
# https://docs.python.org/3.11/library/index.html: the chapter pages it links
# (e.g. https://docs.python.org/3.11/library/filesys.html) and the modules of
# the pages under them (the ".. module::" entries of the 3.11 sources,
# Doc/library/*.rst). The chapters that document no module (Introduction,
# Built-in Functions, Built-in Constants, Built-in Types, Built-in Exceptions,
# Security Considerations) are left out.
CHAPTERS = {
    "Text Processing Services": "string re difflib textwrap unicodedata stringprep readline rlcompleter",
    "Binary Data Services": "struct codecs encodings.idna encodings.mbcs encodings.utf_8_sig",
    "Data Types": (
        "datetime zoneinfo calendar collections collections.abc heapq bisect array weakref types copy "
        "pprint reprlib enum graphlib"),
    "Numeric and Mathematical Modules": "numbers math cmath decimal fractions random statistics",
    "Functional Programming Modules": "itertools functools operator",
    "File and Directory Access": (
        "pathlib os.path fileinput stat filecmp tempfile glob fnmatch linecache shutil"),
    "Data Persistence": "pickle copyreg shelve marshal dbm dbm.gnu dbm.ndbm dbm.dumb sqlite3",
    "Data Compression and Archiving": "zlib gzip bz2 lzma zipfile tarfile",
    "File Formats": "csv configparser tomllib netrc plistlib",
    "Cryptographic Services": "hashlib hmac secrets",
    "Generic Operating System Services": (
        "os io time argparse getopt logging logging.config logging.handlers getpass curses curses.textpad "
        "curses.ascii curses.panel platform errno ctypes"),
    "Concurrent Execution": (
        "threading multiprocessing multiprocessing.sharedctypes multiprocessing.managers "
        "multiprocessing.pool multiprocessing.connection multiprocessing.dummy "
        "multiprocessing.shared_memory concurrent.futures subprocess sched queue contextvars _thread"),
    "Networking and Interprocess Communication": "asyncio socket ssl select selectors signal mmap",
    "Internet Data Handling": (
        "email email.message email.parser email.generator email.policy email.errors email.headerregistry "
        "email.contentmanager email.mime email.header email.charset email.encoders email.utils "
        "email.iterators json json.tool mailbox mimetypes base64 binascii quopri"),
    "Structured Markup Processing Tools": (
        "html html.parser html.entities xml xml.etree.ElementTree xml.dom xml.dom.minidom xml.dom.pulldom "
        "xml.sax xml.sax.handler xml.sax.saxutils xml.sax.xmlreader xml.parsers.expat "
        "xml.parsers.expat.model xml.parsers.expat.errors"),
    "Internet Protocols and Support": (
        "webbrowser wsgiref wsgiref.util wsgiref.headers wsgiref.simple_server wsgiref.validate "
        "wsgiref.handlers wsgiref.types urllib urllib.request urllib.response urllib.parse urllib.error "
        "urllib.robotparser http http.client ftplib poplib imaplib smtplib uuid socketserver http.server "
        "http.cookies http.cookiejar xmlrpc.client xmlrpc.server ipaddress"),
    "Multimedia Services": "wave colorsys",
    "Internationalization": "gettext locale",
    "Program Frameworks": "turtle turtledemo cmd shlex",
    "Graphical User Interfaces with Tk": (
        "tkinter tkinter.colorchooser tkinter.font tkinter.simpledialog tkinter.filedialog "
        "tkinter.commondialog tkinter.messagebox tkinter.scrolledtext tkinter.dnd tkinter.ttk tkinter.tix "
        "idlelib"),
    "Development Tools": (
        "typing pydoc doctest unittest unittest.mock lib2to3 test test.support test.support.socket_helper "
        "test.support.script_helper test.support.bytecode_helper test.support.threading_helper "
        "test.support.os_helper test.support.import_helper test.support.warnings_helper"),
    "Debugging and Profiling": "bdb faulthandler pdb cProfile profile pstats timeit trace tracemalloc",
    "Software Packaging and Distribution": "distutils ensurepip venv zipapp",
    "Python Runtime Services": (
        "sys sysconfig builtins __main__ warnings dataclasses contextlib abc atexit traceback __future__ "
        "gc inspect site"),
    "Custom Python Interpreters": "code codeop",
    "Importing Modules": (
        "zipimport pkgutil modulefinder runpy importlib importlib.abc importlib.machinery importlib.util "
        "importlib.resources importlib.resources.abc importlib.metadata"),
    "Python Language Services": (
        "ast symtable token keyword tokenize tabnanny pyclbr py_compile compileall dis pickletools"),
    "MS Windows Specific Services": "msvcrt winreg winsound",
    "Unix Specific Services": "posix pwd grp termios tty pty fcntl resource syslog",
    "Superseded Modules": (
        "aifc asynchat asyncore audioop cgi cgitb chunk crypt imghdr imp mailcap msilib nis nntplib "
        "optparse ossaudiodev pipes smtpd sndhdr spwd sunau telnetlib uu xdrlib"),
}
# Modules with no entry of their own that the pages above document under
# another name: os.path is posixpath or ntpath (os.path's page names both;
# its functions such as exists() live in their shared genericpath), and the
# encodings package is documented with its encodings.* modules on the codecs page.
ALIASES = {"posixpath": "os.path", "ntpath": "os.path", "genericpath": "os.path", "encodings": "encodings.idna"}
CHAPTER_OF = {m: ch for ch, mods in CHAPTERS.items() for m in mods.split()}


def extract():
    """make_corpus.py's extraction, unchanged but for recording each line's module."""
    limit = 1_000_000
    skip = {"antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo", "test", "lib2to3", "ensurepip", "venv"}
    stdlib = os.path.dirname(os.__file__)
    names = sorted(m.name for m in pkgutil.iter_modules([stdlib]) if not m.name.startswith("_") and m.name not in skip)
    seen, lines, size = set(), [], 0
    for name in names:
        try:
            mod = importlib.import_module(name)
        except Exception:
            continue
        objects = [mod] + [v for k, v in sorted(vars(mod).items()) if not k.startswith("_")
                           and (inspect.isclass(v) or inspect.isfunction(v)) and getattr(v, "__module__", None) == name]
        for obj in objects:
            doc = inspect.getdoc(obj) or ""
            for para in doc.split("\n\n"):
                text = " ".join(l.strip() for l in para.splitlines() if l.strip())
                if len(text) < 40 or text in seen or text.startswith(">>>") or not text.isprintable():
                    continue
                seen.add(text)
                lines.append((name, text))
                size += len(text.encode()) + 1
                if size >= limit:
                    break
            if size >= limit:
                break
        if size >= limit:
            break
    return lines


def module_of_lines(committed):
    """The module of each committed line, None where it cannot be told."""
    reproduced = extract()
    if [t for _, t in reproduced] == committed:
        return [m for m, _ in reproduced]
    # Not the same lines: label each committed line by its text (make_corpus.py
    # keeps each text once), else by its neighbours when both are of one module
    # (the file is in module-name order).
    where = {t: m for m, t in reproduced}
    mods = [where.get(t) for t in committed]
    for i, m in enumerate(mods):
        if m is None:
            before = next((x for x in reversed(mods[:i]) if x), None)
            after = next((x for x in mods[i + 1:] if x), None)
            if before and before == after:
                mods[i] = before
    extra = len(set(where) - set(committed))
    missing = sum(t not in where for t in committed)
    print(f"note: python-docs.txt is not what this Python extracts: {extra} extracted lines are not in it, "
          f"{missing} of its lines were not extracted, {mods.count(None)} of them left unlabelled", file=sys.stderr)
    return mods


def write(path, rows):
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["text", "label"])
        w.writerows(rows)


def main():
    with open(CORPUS, encoding="utf-8") as f:
        committed = f.read().split("\n")[:-1]
    mods = module_of_lines(committed)
    assert sum(m is not None for m in mods) >= 0.95 * len(committed), "python-docs.txt was written by another Python"
    by_chapter, nochapter = collections.defaultdict(list), collections.Counter()
    for m, text in zip(mods, committed):
        chapter = CHAPTER_OF.get(ALIASES.get(m, m)) if m else None
        if chapter:
            by_chapter[chapter].append(text)
        else:
            nochapter[m] += 1
    if nochapter:
        dropped = ", ".join(f"{m or 'unlabelled'} ({n})" for m, n in sorted(nochapter.items(), key=str))
        print(f"note: lines of modules without a chapter, dropped: {dropped}", file=sys.stderr)
    kept = [ch for ch in sorted(by_chapter, key=lambda c: (-len(by_chapter[c]), c))
            if len(by_chapter[ch]) >= MIN_PER_CLASS][:KEEP]
    rng = random.Random(SEED)
    train, test = [], []
    for ch in kept:
        texts = by_chapter[ch]
        if len(texts) > CAP:
            texts = rng.sample(texts, CAP)
        texts = texts[:]
        rng.shuffle(texts)
        n_test = round(len(texts) * TEST_SHARE)
        test += [(t, ch) for t in texts[:n_test]]
        train += [(t, ch) for t in texts[n_test:]]
    rng.shuffle(train)
    rng.shuffle(test)
    write(TRAIN, train)
    write(TEST, test)
    n_train, n_test = collections.Counter(l for _, l in train), collections.Counter(l for _, l in test)
    for ch in kept:
        print(f"  {n_train[ch]:4d} {n_test[ch]:4d}  {ch}")
    size = os.path.getsize(TRAIN) + os.path.getsize(TEST)
    print(f"{len(train)} train + {len(test)} test rows, {len(kept)} chapters of {len(by_chapter)}, "
          f"{size} bytes, Python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
