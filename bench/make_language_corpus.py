"""A text corpus of one language from this machine's gettext catalogs
(/usr/share/locale/LANG/LC_MESSAGES/*.mo): every distinct translated line longer
than 10 characters, shuffled with a fixed seed and repeated up to SIZE bytes.

    python3 bench/make_language_corpus.py ru OUT.txt [SIZE]
"""
import glob
import gettext
import random
import sys

lang, out = sys.argv[1], sys.argv[2]
size = int(sys.argv[3]) if len(sys.argv) > 3 else 3_000_000
lines = set()
for path in sorted(glob.glob(f"/usr/share/locale/{lang}/LC_MESSAGES/*.mo")):
    try:
        catalog = gettext.GNUTranslations(open(path, "rb"))._catalog
    except Exception:  # noqa: BLE001 (a catalog Python cannot read is skipped)
        continue
    for value in catalog.values():
        if isinstance(value, str):
            lines.update(l.strip() for l in value.split("\n") if len(l.strip()) > 10)
lines = sorted(lines)
if not lines:
    sys.exit(f"no catalog text for {lang}")
random.Random(0).shuffle(lines)
text, total = [], 0
while total < size:
    for l in lines:
        n = len(l.encode()) + 1
        if total + n > size:
            break
        text.append(l)
        total += n
    else:
        continue
    break
open(out, "w", encoding="utf-8").write("\n".join(text) + "\n")
print(f"{lang}: {len(lines)} distinct lines, {total} bytes", file=sys.stderr)
