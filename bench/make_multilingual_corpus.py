"""Writes a multilingual plain-text corpus from the gettext message catalogs
installed on this machine (/usr/share/locale/*/LC_*/*.mo and vim's
/usr/share/vim/*/lang/*/LC_MESSAGES/*.mo): the translated strings (msgstr,
plural forms included, the catalog header left out), one line per text line,
stripped, lines without a letter dropped, each distinct line once, in the
order of the sorted catalog paths. Catalogs that do not parse are skipped.

  python bench/make_multilingual_corpus.py ALL.txt SAMPLE.txt SAMPLE_BYTES

ALL.txt gets every distinct line (the tokenizer's training text); SAMPLE.txt
about SAMPLE_BYTES of them, shuffled with a fixed seed (the benchmark corpus,
languages mixed). Prints what it used (catalogs, languages, bytes, SHA-256)
as one JSON object; the result depends on the Debian packages installed."""
import collections, gettext, glob, hashlib, json, random, sys, unicodedata

out_all, out_sample, sample_bytes = sys.argv[1], sys.argv[2], int(sys.argv[3])
files = sorted(glob.glob("/usr/share/locale/*/LC_*/*.mo")) + sorted(glob.glob("/usr/share/vim/*/lang/*/LC_MESSAGES/*.mo"))


def lang_of(path):
    parts = path.split("/")
    return parts[parts.index("LC_MESSAGES") - 1] if "LC_MESSAGES" in parts else parts[4]


def has_letter(s):
    return any(unicodedata.category(c).startswith("L") for c in s)


seen, lines, skipped = set(), [], 0
by_lang = collections.Counter()
for f in files:
    try:
        with open(f, "rb") as fh:
            catalog = gettext.GNUTranslations(fh)._catalog
    except Exception:
        skipped += 1
        continue
    lang = lang_of(f)
    for key in sorted(catalog, key=lambda k: k if isinstance(k, tuple) else (k, -1)):
        msgid = key[0] if isinstance(key, tuple) else key
        value = catalog[key]
        if not msgid or not isinstance(value, str):
            continue
        for line in value.splitlines():
            line = line.strip()
            if line and line not in seen and has_letter(line):
                seen.add(line)
                lines.append(line)
                by_lang[lang] += len(line.encode())

text = "\n".join(lines) + "\n"
open(out_all, "w", encoding="utf-8").write(text)
order = list(range(len(lines)))
random.Random(0).shuffle(order)
sample, n = [], 0
for i in order:
    if n >= sample_bytes:
        break
    sample.append(lines[i])
    n += len(lines[i].encode()) + 1
open(out_sample, "w", encoding="utf-8").write("\n".join(sample) + "\n")
print(json.dumps({
    "catalogs": len(files) - skipped, "catalogs_skipped": skipped, "languages": len(by_lang),
    "lines": len(lines), "bytes": len(text.encode()), "sha256": hashlib.sha256(text.encode()).hexdigest(),
    "sample_lines": len(sample), "sample_bytes": n,
    "top_languages_mb": {k: round(v / 1e6, 2) for k, v in by_lang.most_common(12)},
}))
