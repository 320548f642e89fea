"""Writes a plain-text corpus of about N bytes from the documentation of
Python's standard library modules (PSF license), one non-empty line per text."""
import pkgutil, pydoc, sys, warnings

warnings.simplefilter("ignore")
out, size = sys.argv[1], int(sys.argv[2])
# Standard-library modules only: iter_modules() also lists the scripts beside this
# one (bench/), which must not be imported.
names = sorted(m.name for m in pkgutil.iter_modules() if m.name in sys.stdlib_module_names
               and not m.name.startswith("_") and m.name not in ("antigravity", "this"))
lines = []
for name in names:
    try:
        doc = pydoc.getdoc(__import__(name))
    except Exception:
        continue
    lines += [l.strip() for l in doc.splitlines() if l.strip()]
text = "\n".join(lines)
while len(text.encode()) < size:
    text += "\n" + text
open(out, "w", encoding="utf-8").write(text.encode()[:size].decode("utf-8", "ignore").rsplit("\n", 1)[0] + "\n")
