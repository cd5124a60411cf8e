"""What the environment lets a front end do: the locale and the terminal.

Decided once, before any curses, for the client and for the admin console:

- whether this terminal can run curses at all: TERM set, known to terminfo,
  and able to move the cursor (`cup`); `dumb`, an unknown TERM or no TERM
  cannot, and the front end falls back to line mode (the client) or the
  headless console (the server);
- which locale to draw in: curses draws Chinese only under a UTF-8 LC_CTYPE.
  The user's locale when it is installed and UTF-8; else the same language in
  UTF-8, C.UTF-8, or any installed UTF-8 locale (probed with setlocale: stdlib
  only, no `locale -a`). When there is none at all, curses would show every
  Chinese character blank, so the front end falls back as above: line mode
  writes UTF-8 bytes as they are, and a UTF-8 terminal shows them.

What to say about it is one line, in the front end's language (zh or en);
"" when there is nothing to say. Line mode needs neither check: Python writes
UTF-8 there whatever the locale (see `utf8_streams`).
"""
import curses
import locale
import os
import sys
from typing import Callable, Dict, Iterable, List, Mapping, NamedTuple, Optional, TextIO, Tuple

from app.ui.language import worded

LOCALE_DIR = "/usr/lib/locale"       # glibc's compiled locales, one directory each
FALLBACKS = ("C.UTF-8", "C.utf8", "en_US.UTF-8", "en_US.utf8")
CATEGORY_VARIABLES = ("LC_ALL", "LC_CTYPE", "LC_MESSAGES", "LC_COLLATE", "LC_TIME",
                      "LC_NUMERIC", "LC_MONETARY", "LANG")

# A reason curses cannot run is followed by what happens instead ("client" or
# "console"); a locale fallback that works needs no second half. Short: a line
# should fit 80 columns.
TEXTS: Dict[str, Dict[str, str]] = {
    "zh": {
        "no_term": "chat.pyz: 没有设置 TERM，无法全屏显示",
        "unknown_term": "chat.pyz: 不认识的终端 TERM=%(term)s，无法全屏显示",
        "no_cup": "chat.pyz: 终端 TERM=%(term)s 不能移动光标，无法全屏显示",
        "no_utf8": "chat.pyz: 本机没有 UTF-8 语言环境，全屏无法显示中文",
        "client": "，改用行模式",
        "console": "，改为从标准输入读取管理命令",
        "missing": "chat.pyz: 语言环境 %(wanted)s 没有安装，改用 %(used)s",
        "not_utf8": "chat.pyz: 语言环境 %(wanted)s 不是 UTF-8，显示不了中文，改用 %(used)s",
        "name_needed": "chat.pyz: 行模式需要名字：请加上 --name 你的名字",
        "name_prompt": "名字: ",
    },
    "en": {
        "no_term": "chat.pyz: TERM is not set",
        "unknown_term": "chat.pyz: unknown TERM=%(term)s",
        "no_cup": "chat.pyz: TERM=%(term)s: no cursor movement",
        "no_utf8": "chat.pyz: no UTF-8 locale for Chinese",
        "client": "; using line mode",
        "console": "; reading admin lines from stdin instead",
        "missing": "chat.pyz: locale %(wanted)s is not installed; using %(used)s",
        "not_utf8": "chat.pyz: locale %(wanted)s is not UTF-8 (no Chinese); using %(used)s",
        "name_needed": "chat.pyz: line mode needs a name: add --name YOUR_NAME",
        "name_prompt": "name: ",
    },
}


def text(lang: str, key: str, **values: str) -> str:
    """The line `key` in `lang` (English when the language is not one we have)."""
    return worded(TEXTS, lang, key, values)


class Verdict(NamedTuple):
    """Whether curses may start, and what to say first: a TEXTS key and its values
    (key "" for nothing to say)."""
    curses: bool
    key: str = ""
    values: Tuple[Tuple[str, str], ...] = ()

    def note(self, lang: str, instead: str = "client") -> str:
        """The one line to say; `instead` names what runs when curses cannot
        ("client": line mode, "console": the headless console)."""
        if not self.key:
            return ""
        line = text(lang, self.key, **dict(self.values))
        return line if self.curses else line + text(lang, instead)


# ---------------------------------------------------------------- the terminal

def terminal_problem(term: Optional[str], fd: int = 1) -> Optional[str]:
    """Why curses cannot drive the terminal `term` on `fd` (a TEXTS key), or None.
    Asks terminfo before initscr, which would already have drawn on the glass."""
    if not term:
        return "no_term"
    try:
        curses.setupterm(term, fd)
    except curses.error:
        return "unknown_term"
    if not curses.tigetstr("cup"):
        return "no_cup"
    return None


# ---------------------------------------------------------------- the locale

def is_utf8_codeset(codeset: str) -> bool:
    return codeset.replace("-", "").lower() == "utf8"


def _ctype_is_utf8() -> bool:
    return is_utf8_codeset(locale.nl_langinfo(locale.CODESET))


def _installed(name: str) -> bool:
    """Whether setlocale accepts `name` (LC_CTYPE left as it was)."""
    saved = locale.setlocale(locale.LC_CTYPE)
    try:
        locale.setlocale(locale.LC_CTYPE, name)
        return True
    except locale.Error:
        return False
    finally:
        locale.setlocale(locale.LC_CTYPE, saved)


def requested(environ: Mapping[str, str], missing: bool) -> str:
    """The locale name the user asked for, as the message names it: when one is
    `missing`, the first variable setlocale refuses; else the one deciding LC_CTYPE."""
    if missing:
        for variable in CATEGORY_VARIABLES:
            name = environ.get(variable, "")
            if name and not _installed(name):
                return name
    ctype = [environ.get(v, "") for v in ("LC_ALL", "LC_CTYPE", "LANG")]
    return next((name for name in ctype if name), "C")


def utf8_candidates(wanted: str, installed_dirs: Iterable[str] = ()) -> List[str]:
    """UTF-8 locales to try, best first: the wanted language in UTF-8, C.UTF-8 and
    en_US, glibc's compiled locale directories, then every UTF-8 name Python knows
    an alias for. No duplicates."""
    language = wanted.split(".")[0].split("@")[0]
    first = ["%s.UTF-8" % language, "%s.utf8" % language] \
        if language not in ("", "C", "POSIX") else []
    found = [name for name in sorted(installed_dirs)
             if is_utf8_codeset(name.split(".")[-1]) if "." in name]
    aliases = sorted({name for name in locale.locale_alias.values()
                      if name.upper().endswith(".UTF-8")})
    seen: Dict[str, None] = {}
    for name in first + list(FALLBACKS) + found + aliases:
        seen.setdefault(name, None)
    return list(seen)


def _locale_dirs() -> List[str]:
    try:
        return os.listdir(LOCALE_DIR)
    except OSError:
        return []


def choose_locale(set_ctype: Optional[Callable[[str], bool]] = None) -> Verdict:
    """Set the process's locale (from the environment) for curses: the user's when
    it is installed and UTF-8, else a UTF-8 LC_CTYPE that exists (the other
    categories stay as far as they could be set). `set_ctype(name)` sets LC_CTYPE
    to a UTF-8 `name` if it can; a test passes one that finds none. Verdict(False,
    note) when no UTF-8 locale exists at all."""
    problem = "not_utf8"
    try:
        locale.setlocale(locale.LC_ALL, "")
    except locale.Error:
        problem = "missing"
        try:                          # what can be set, is: LC_CTYPE decides the display
            locale.setlocale(locale.LC_CTYPE, "")
        except locale.Error:
            pass
    if problem == "not_utf8" and _ctype_is_utf8():
        return Verdict(True)
    wanted = requested(os.environ, problem == "missing")
    if _ctype_is_utf8():              # LC_CTYPE could be set, and is UTF-8: keep it
        return Verdict(True, problem, (("wanted", wanted),
                                       ("used", locale.setlocale(locale.LC_CTYPE))))
    for name in utf8_candidates(wanted, _locale_dirs()):
        if (set_ctype or _set_ctype)(name):
            return Verdict(True, problem, (("wanted", wanted), ("used", name)))
    return Verdict(False, "no_utf8")


def _set_ctype(name: str) -> bool:
    try:
        locale.setlocale(locale.LC_CTYPE, name)
    except locale.Error:
        return False
    return _ctype_is_utf8()


# ---------------------------------------------------------------- together

def for_curses() -> Verdict:
    """May curses start on this terminal (stdout)? Sets the locale when it may.
    At most one line to say."""
    term = os.environ.get("TERM", "")
    problem = terminal_problem(term)
    if problem is not None:
        return Verdict(False, problem, (("term", term),))
    return choose_locale()


def is_terminal(stream: Optional[TextIO]) -> bool:
    """A stream that is there (stdin may be closed: None) and is a terminal."""
    try:
        return stream is not None and stream.isatty()
    except (ValueError, OSError):
        return False


def utf8_streams() -> None:
    """Line mode writes UTF-8 whatever the locale (a UTF-8 terminal under a latin-1
    or broken locale still shows Chinese), and never dies of a character it cannot
    encode."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and not is_utf8_codeset(stream.encoding or ""):
            reconfigure(encoding="utf-8", errors="replace")


def say(line: str) -> None:
    """One line on stderr, if stderr is still there."""
    if not line:
        return
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):
        pass
