"""File names a receiver may use (docs/PROTOCOL.md F.6). Pure.

The name in an OFFER is the sender's idea, possibly hostile: `../../.bashrc`,
an ESC sequence that repaints the teacher's terminal, `CON.txt` that a Windows
share cannot hold, a right-to-left override that makes `gpj.exe` look like
`exe.jpg`. `safe_name` keeps one harmless path component; `numbered` makes
the `name (1).ext` of a file that already exists.
"""
import unicodedata
from typing import Tuple

MAX_NAME_BYTES = 255                 # NAME_MAX on Linux
FALLBACK = "file"
PARTIAL_SUFFIX = ".part"
# Windows' reserved device names: with any extension, in any case.
_RESERVED = frozenset(["CON", "PRN", "AUX", "NUL"] + ["COM%d" % i for i in range(1, 10)]
                      + ["LPT%d" % i for i in range(1, 10)])
# Categories dropped: controls (C0, C1, DEL), format characters (bidi overrides,
# zero-width), surrogates, private use, unassigned, line and paragraph separators.
_DROP = frozenset(("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"))


def _cut_bytes(text: str, limit: int) -> str:
    return text.encode("utf-8")[:max(0, limit)].decode("utf-8", "ignore")


def split_ext(name: str) -> Tuple[str, str]:
    """('讲义', '.pdf'); a leading dot does not start an extension."""
    dot = name.rfind(".")
    if dot <= 0:
        return name, ""
    return name[:dot], name[dot:]


def fit(stem: str, ext: str, limit: int = MAX_NAME_BYTES) -> str:
    """stem + ext in `limit` UTF-8 bytes, cutting the stem (the extension is
    kept when it is short enough to matter)."""
    if len(ext.encode("utf-8")) > 32:
        stem, ext = stem + ext, ""
    return _cut_bytes(stem, limit - len(ext.encode("utf-8"))) + ext


def safe_name(raw: str) -> str:
    """A file name that stays inside its folder and shows as what it is."""
    name = unicodedata.normalize("NFC", raw.replace("\\", "/")).split("/")[-1]
    name = "".join(" " if ch.isspace() else ch for ch in name
                   if unicodedata.category(ch) not in _DROP or ch in "\t\n\r")
    name = " ".join(name.split())              # runs of blanks: one space, none at the ends
    name = name.lstrip(".").rstrip(". ")       # no hidden files, no "..", no "x." for Windows
    stem, ext = split_ext(name)
    if stem.split(".")[0].upper().rstrip(" ") in _RESERVED:
        stem = "_" + stem
    name = fit(stem, ext)
    if name.endswith(PARTIAL_SUFFIX):          # never looks like our own partial files
        name += "_"
    return name or FALLBACK


def numbered(name: str, n: int) -> str:
    """The n-th other name for `name`: '讲义 (1).pdf'."""
    if n == 0:
        return name
    stem, ext = split_ext(name)
    return fit(stem + " (%d)" % n, ext)


def human_size(size: int) -> str:
    """1.2 MB, 340 KB, 12 B (decimal units, one decimal under 10)."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            if unit == "B":
                return "%d B" % size
            return ("%.1f %s" if value < 10 else "%.0f %s") % (value, unit)
        value /= 1000
    return "%d B" % size
