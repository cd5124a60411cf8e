"""What both processes of the curses client have after the fork.

Each side owns some of the windows and draws only those: the receiver the
message pane, the sender the status and input lines. The other side's windows
are hidden from this process's ncurses model (screen.Painter.hide), and a side
that may have damaged the other's rows asks it to repaint them (RepaintWindows).
"""
from typing import Any, Tuple

from app.core.options import ClientOptions
from app.net.channel import Channel
from app.net.processes import SharedCursor
from app.ui import render, screen
from app.ui.client.messages import RepaintWindows
from app.ui.client.terminal import Terminal

Windows = Tuple[Any, ...]          # curses windows


def receiver_windows(wins: screen.ChatWindows) -> Windows:
    return (wins.pane,)


def sender_windows(wins: screen.ChatWindows) -> Windows:
    return (wins.status, wins.input)


class Side:
    """The terminal, the channel to the other process, the shared input cursor."""

    def __init__(self, term: Terminal, options: ClientOptions, channel: Channel,
                 cursor: SharedCursor) -> None:
        self.term = term
        self.options = options
        self.channel = channel
        self.cursor = cursor
        self.lang = options.lang

    def own_windows(self) -> Windows:
        raise NotImplementedError

    def other_windows(self) -> Windows:
        raise NotImplementedError

    def tr(self, key: str, **values: Any) -> str:
        return render.tr(self.lang, key, **values)

    def after_fork(self) -> None:
        """Own signal pipe and lock descriptor, and the other process's windows hidden
        from our ncurses model."""
        self.term.after_fork()
        self.term.painter.hide(self.other_windows())

    def redraw(self) -> None:
        for window in self.own_windows():
            window.redrawwin()

    def resize(self) -> None:
        """On SIGWINCH, or when a paint finds the size changed before the signal came."""
        self.term.resize()
        self.term.painter.hide(self.other_windows())
        self.redraw()
        # A paint of ours at the old size may have scrolled the other's rows (a terminal
        # clamps a stale scroll region to its new bottom): it must repaint them.
        self.channel.send(RepaintWindows())
