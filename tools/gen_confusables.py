#!/usr/bin/env python3
"""Make app/core/confusables_data.py, the look-alike table names are checked with,
from Unicode's full confusables.txt (UTS #39, "Unicode Security Mechanisms").

    python3 tools/gen_confusables.py PATH/TO/confusables.txt [OUT]

The full file is not kept in the repository (it is 750 KB and the room needs a
fifth of it); get it from https://www.unicode.org/Public/security/VERSION/ and
run this again to move to a newer version. docs/SECURITY.md ("Names") says which
version is bundled and why the table is what it is. The output depends only on
the file and on the Unicode version of the Python running this (its
unicodedata decides the trimming and the small capitals), which the output
records; run it with the newest Python the project supports.

The table is confusables.txt's prototype mapping (source character -> prototype
string), then:

1. Supplemented: a small capital is drawn as its capital letter at x-height
   (U+1D00 "ᴀ" is a small "A"), and names are compared case-blind, so
   "ᴀlice" impersonates "Alice", which is the name "alice". confusables.txt has
   no entry for most small capitals (it even uses U+1D00 as a prototype). Each
   character named "<SCRIPT> LETTER SMALL CAPITAL <X>" whose "<SCRIPT> CAPITAL
   LETTER <X>" exists is mapped to that capital's prototype, and every prototype
   is rewritten through the supplement so the table stays a single-step map.
2. Trimmed to what can occur where the skeleton is taken (app/core/text.py):
   names are NFKC-normalised and the skeleton starts with NFD and drops
   combining marks (Mn, Me; the kana voicing marks excepted), so no entry is
   kept whose source
   - has a decomposition (canonical: gone after NFD; compatibility: gone after
     NFKC) -- most of the file's mathematical alphanumerics and fullwidth forms;
   - is a combining mark (dropped before the mapping; the kana voicing marks are
     kept as they are, so "か" and "が" stay apart);
   - is of a category a name may not contain at all (controls, format
     characters, surrogates, private use, spaces, line and paragraph
     separators).
   Characters this Python does not know (newer than its Unicode) are kept: a
   newer interpreter may accept them in names.
3. Prototypes are stored in NFD without combining marks (except the kana
   voicing marks), which is what the skeleton would make of them; an entry whose
   prototype is then empty or the source itself is dropped.

The output groups the sources by prototype, as hex code points, so the module
is small and loads in a few milliseconds, and only when a name is first checked.
"""
import collections
import re
import sys
import unicodedata
from pathlib import Path
from typing import Dict, List, Tuple

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "app" / "core" / "confusables_data.py"

KEPT_MARKS = frozenset("\u3099\u309a")          # as app/core/text.py _KEPT_MARKS
MARKS = frozenset(("Mn", "Me"))
NEVER_IN_NAMES = frozenset(("Cc", "Cf", "Cs", "Co", "Zs", "Zl", "Zp"))
SMALL_CAPITAL = re.compile(r"^(.+) LETTER SMALL CAPITAL (.+)$")


def read(path: Path) -> Tuple[Dict[str, str], Dict[str, str]]:
    """The file's mapping and its header fields (Version, Date, copyright)."""
    mapping: Dict[str, str] = {}
    header: Dict[str, str] = {}
    total = None
    with open(str(path), encoding="utf-8-sig") as f:
        for line in f:
            if line.startswith("#"):
                field = line[1:].strip()
                for key in ("Version", "Date"):
                    if field.startswith(key + ":"):
                        header.setdefault(key, field.split(":", 1)[1].strip())
                if field.startswith("©"):
                    header.setdefault("copyright", field)
                if field.startswith("total:"):
                    total = int(field.split(":", 1)[1])
                continue
            data = line.split("#", 1)[0].strip()
            if not data:
                continue
            source, target, _kind = (part.strip() for part in data.split(";"))
            if " " in source:
                raise SystemExit("a multi-character source: %r" % line)
            char = chr(int(source, 16))
            if char in mapping:
                raise SystemExit("two entries for U+%04X" % ord(char))
            mapping[char] = "".join(chr(int(cp, 16)) for cp in target.split())
    if total != len(mapping):
        raise SystemExit("the file says %s entries, it has %d: a damaged copy?"
                         % (total, len(mapping)))
    for key in ("Version", "Date", "copyright"):
        if key not in header:
            raise SystemExit("no %s in the file's header" % key)
    return mapping, header


def small_capitals(mapping: Dict[str, str]) -> Dict[str, str]:
    """Small capital -> its capital's prototype, for those confusables.txt lacks."""
    extra = {}
    for cp in range(sys.maxunicode + 1):
        char = chr(cp)
        match = SMALL_CAPITAL.match(unicodedata.name(char, ""))
        if match is None or char in mapping:
            continue
        try:
            capital = unicodedata.lookup("%s CAPITAL LETTER %s" % match.groups())
        except KeyError:
            continue
        extra[char] = mapping.get(capital, capital)
    return extra


def strip_marks(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFD", text)
                   if ch in KEPT_MARKS or unicodedata.category(ch) not in MARKS)


def trim(mapping: Dict[str, str]) -> Dict[str, str]:
    kept = {}
    for source, target in mapping.items():
        category = unicodedata.category(source)
        if (unicodedata.decomposition(source) or category in MARKS
                or category in NEVER_IN_NAMES):
            continue
        target = strip_marks(target)
        if target and target != source:
            kept[source] = target
    return kept


def build(path: Path) -> Tuple[str, int, int]:
    """The module's text, the entries in the file, the entries kept."""
    mapping, header = read(path)
    extra = small_capitals(mapping)
    merged = {source: "".join(extra.get(ch, ch) for ch in target)
              for source, target in mapping.items()}
    merged.update(extra)
    table = trim(merged)
    by_target: Dict[str, List[str]] = collections.defaultdict(list)
    for source, target in table.items():
        by_target[target].append(source)
    rows = []
    for target in sorted(by_target):
        sources = " ".join("%x" % ord(s) for s in sorted(by_target[target]))
        rows.append("%s:%s" % (" ".join("%x" % ord(ch) for ch in target), sources))
    text = TEMPLATE % {
        "version": header["Version"], "date": header["Date"],
        "copyright": header["copyright"], "unidata": unicodedata.unidata_version,
        "total": len(mapping), "extra": len(extra), "kept": len(table),
        "rows": "\n".join(rows)}
    return text, len(mapping), len(table)


TEMPLATE = '''"""Look-alike characters for names: UTS #39 confusables.txt, trimmed. Generated.

Do not edit: made by tools/gen_confusables.py from confusables.txt version
%(version)s (%(date)s) with Python's Unicode %(unidata)s. Of its %(total)d
entries, %(kept)d are kept (with %(extra)d small capitals added); the tool's
docstring says which and why, docs/SECURITY.md how names use them.

TABLE: one line per prototype, "PROTOTYPE:SOURCE SOURCE ...", code points in hex
(a prototype may be several, space-separated). Read by app/core/text.py.

The data is Unicode's, under this notice:

%(copyright)s

UNICODE LICENSE V3 -- COPYRIGHT AND PERMISSION NOTICE

Permission is hereby granted, free of charge, to any person obtaining a copy of
data files and any associated documentation (the "Data Files") or software and
any associated documentation (the "Software") to deal in the Data Files or
Software without restriction, including without limitation the rights to use,
copy, modify, merge, publish, distribute, and/or sell copies of the Data Files
or Software, and to permit persons to whom the Data Files or Software are
furnished to do so, provided that either (a) this copyright and permission
notice appear with all copies of the Data Files or Software, or (b) this
copyright and permission notice appear in associated Documentation.

THE DATA FILES AND SOFTWARE ARE PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND,
EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF
MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT OF THIRD
PARTY RIGHTS.

IN NO EVENT SHALL THE COPYRIGHT HOLDER OR HOLDERS INCLUDED IN THIS NOTICE BE
LIABLE FOR ANY CLAIM, OR ANY SPECIAL INDIRECT OR CONSEQUENTIAL DAMAGES, OR ANY
DAMAGES WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN
ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF OR IN
CONNECTION WITH THE USE OR PERFORMANCE OF THE DATA FILES OR SOFTWARE.

Except as contained in this notice, the name of a copyright holder shall not be
used in advertising or otherwise to promote the sale, use or other dealings in
these Data Files or Software without prior written authorization of the
copyright holder.

SPDX-License-Identifier: Unicode-3.0
"""

VERSION = "%(version)s"
UNIDATA_VERSION = "%(unidata)s"

TABLE = """\\
%(rows)s
"""
'''


def main(argv: List[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    text, total, kept = build(Path(argv[1]))
    out = Path(argv[2]) if len(argv) == 3 else OUT
    out.write_text(text, encoding="utf-8")
    print("%s: %d of %d entries, %d bytes" % (out, kept, total, len(text.encode())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
