#!/usr/bin/env python3
"""Writes samples/corpus/python-docs.txt: the docstrings of the Python standard
library (modules, classes, functions), one paragraph per line, duplicates
dropped, in module-name order, up to about 1 MB. The text is the Python
Software Foundation's, under the PSF License Version 2 (see
samples/corpus/NOTICE.md). Run with the Python whose library you want to read:

    python3 samples/make_corpus.py
"""
import importlib, inspect, os, pkgutil, sys, warnings

warnings.simplefilter("ignore")
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "python-docs.txt")
LIMIT = 1_000_000
SKIP = {"antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo", "test", "lib2to3", "ensurepip", "venv"}

stdlib = os.path.dirname(os.__file__)
names = sorted(m.name for m in pkgutil.iter_modules([stdlib]) if not m.name.startswith("_") and m.name not in SKIP)
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
            lines.append(text)
            size += len(text.encode()) + 1
            if size >= LIMIT:
                break
        if size >= LIMIT:
            break
    if size >= LIMIT:
        break
os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w", encoding="utf-8", newline="\n") as f:
    f.write("\n".join(lines) + "\n")
print(f"{len(lines)} lines, {size} bytes, Python {sys.version.split()[0]}")
