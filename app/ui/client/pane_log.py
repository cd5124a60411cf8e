"""--log FILE: the curses client's own record of its message pane.

Every line the pane is given (room events, local notes) is appended to the file
as one line: the date and time it was shown, then its text; the further lines
of a multi-line message follow on lines of their own, each starting with
render.CONTINUATION, as in line mode. The file is opened
once, before curses starts, so a bad path is one clear line and exit 1; after
the fork only the receiver adds to the pane, so only it writes. O_APPEND and one
write() per line keep lines whole even if two clients share a file.
"""
import os
import time
from typing import Callable, Optional, Sequence, Tuple

from app.ui.os_words import os_error_text
from app.ui.render import CONTINUATION

Segment = Tuple[str, str]


class PaneLog:
    def __init__(self, fd: int, clock: Callable[[], float] = time.time) -> None:
        self.fd = fd
        self.clock = clock

    @classmethod
    def open(cls, path: str) -> "PaneLog":
        """Raises OSError (with its reason) when the file cannot be appended to."""
        return cls(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600))

    def write(self, segments: Sequence[Segment]) -> None:
        text = "".join(part for part, _ in segments).replace("\n", "\n" + CONTINUATION)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.clock()))
        try:
            os.write(self.fd, ("%s %s\n" % (stamp, text)).encode("utf-8", "replace"))
        except OSError:
            pass                     # a full disk must not end the chat; the pane still shows it

    def close(self) -> None:
        try:
            os.close(self.fd)
        except OSError:
            pass


def open_log(path: Optional[str], lang: str) -> Tuple[Optional[PaneLog], str]:
    """(the log, "") or (None, why it cannot be opened: an errno's words in
    `lang`, app/ui/os_words.py); (None, "") without a path."""
    if not path:
        return None, ""
    try:
        return PaneLog.open(path), ""
    except OSError as exc:
        return None, os_error_text(exc, lang)
