"""A problem with a file, a folder or the system, as one short coded detail
that the front ends word in their language (app/ui/os_words.py):

    KEY ERRNO_NAME [TEXT]        e.g. `open ENOENT /home/t/讲义.pdf`

KEY says what we were doing (open, read, not_file, changed, too_big,
key_read, key_damaged, key_keep, known_keep, ...), ERRNO_NAME the operating
system's answer by its errno name (`EACCES`), or `-` when there is none, and
TEXT the rest (a path, or numbers and then a path). Why a code and not the
OS's own sentence: `strerror` is English (or the C library's locale), and the
person reading it may have chosen Chinese. The same detail goes into exceptions
(str(exc)), the room's log (the hand-in and handout entries) and file REFUSE
details, so each front end words it once, at the end. A detail that is not
in this form (an older server's English, stored in its database) is shown as
it is.
"""
import errno as errno_codes
from typing import NamedTuple, Optional

NO_ERRNO = "-"


class Problem(NamedTuple):
    key: str
    errno_name: str          # `ENOENT`, or NO_ERRNO
    text: str


def errno_name(number: Optional[int]) -> str:
    """`EACCES` for errno.EACCES; NO_ERRNO for None or an unknown number."""
    return errno_codes.errorcode.get(number, NO_ERRNO) if number is not None else NO_ERRNO


def errno_number(name: str) -> Optional[int]:
    """errno.EACCES for `EACCES`; None for anything else (an older peer's English)."""
    number = getattr(errno_codes, name, None) if name.isupper() else None
    return number if isinstance(number, int) and errno_codes.errorcode.get(number) else None


def detail(key: str, number: Optional[int] = None, text: str = "") -> str:
    """The coded detail of a problem (`number`: an errno value, or None)."""
    return ("%s %s %s" % (key, errno_name(number), text)).rstrip(" ")


def parse(coded: str) -> Optional[Problem]:
    """A detail made by `detail`; None for any other text."""
    key, _, rest = coded.partition(" ")
    name, _, text = rest.partition(" ")
    if not key or not key.replace("_", "").isalpha() or not key.islower():
        return None
    if name != NO_ERRNO and name not in errno_codes.errorcode.values():
        return None
    return Problem(key, name, text)
