"""Signals for selector loops: a handler only writes the signal number to a
self-pipe; the loop reads it like any other event. Used by every process that
runs a `selectors` loop (server, line-mode client, both curses front ends), so
no real work ever happens inside a signal handler."""
import os
import signal
from typing import Iterable, List


class SignalPipe:
    """Signals as bytes on a self-pipe, for a selector loop (no work in handlers)."""

    def __init__(self, signums: Iterable[int]):
        self.read_fd, self.write_fd = os.pipe()
        for fd in (self.read_fd, self.write_fd):
            os.set_blocking(fd, False)
        for signum in signums:
            signal.signal(signum, self._handler)

    def _handler(self, signum, frame) -> None:
        try:
            os.write(self.write_fd, bytes([signum]))
        except OSError:
            pass                     # pipe full: a byte of that kind is already waiting

    def fileno(self) -> int:
        return self.read_fd

    def take(self) -> List[int]:
        """The signals received since the last call, each once, in arrival order."""
        seen: List[int] = []
        try:
            while True:
                data = os.read(self.read_fd, 256)
                if not data:
                    break
                seen.extend(s for s in data if s not in seen)
        except BlockingIOError:
            pass
        return seen
