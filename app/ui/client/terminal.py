"""The client's terminal: curses set up once, before fork, for two processes.

Both processes keep the Terminal they inherit: the windows, the message view,
the key decoder. After fork each one takes its own signal pipe and lock
descriptor (`after_fork`); how both draw on one glass without damage is
screen.py's job.
"""
import curses
import os
import signal
import tempfile
from typing import Dict, List, Optional, Tuple

from app.core.options import ClientOptions
from app.ui import render, screen, stdin
from app.ui.client.pane_log import PaneLog
from app.ui.line_editor import LineEditor
from app.ui.messages_view import MessagesView
from app.ui.width import text_width, truncate_to_width

LEAVE_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# SIGCONT (`fg` after a stop: the shell has drawn over us and put the tty back in
# its own modes): our modes back and a repaint, at the name prompt and after the
# fork alike.
WATCHED_SIGNALS = (signal.SIGWINCH, signal.SIGCONT) + LEAVE_SIGNALS


def _attributes() -> Dict[str, int]:
    """Style name (render.py) -> curses attribute."""
    mono = {"": 0, "text": 0, "time": 0, "notice": 0, "history": curses.A_DIM,
            "pending": curses.A_DIM,
            "self": curses.A_BOLD, "mention": curses.A_BOLD,
            "admin": curses.A_BOLD | curses.A_REVERSE, "private": curses.A_UNDERLINE,
            "indicator": curses.A_REVERSE, "status": curses.A_REVERSE}
    palette = (curses.COLOR_RED, curses.COLOR_GREEN, curses.COLOR_YELLOW,
               curses.COLOR_BLUE, curses.COLOR_MAGENTA, curses.COLOR_CYAN)
    mono.update(("name%d" % i, 0) for i in range(render.NAME_COLOURS))
    colours: List[Tuple[str, int, Optional[int], int]] = [
        ("name%d" % i, colour, None, 0) for i, colour in enumerate(palette)]
    colours += [("admin", curses.COLOR_WHITE, curses.COLOR_RED, curses.A_BOLD),
                ("private", curses.COLOR_MAGENTA, None, curses.A_BOLD),
                ("mention", curses.COLOR_YELLOW, None, curses.A_BOLD),
                ("notice", curses.COLOR_CYAN, None, 0)]
    return screen.colour_attributes(mono, colours)


class Terminal:
    """Curses set up for two processes: raw keys, all windows made before fork."""

    def __init__(self, options: ClientOptions, log: Optional[PaneLog] = None) -> None:
        self.lang = options.lang
        self.log = log               # --log: every line the pane is given
        self.server = "%s:%d" % (options.host, options.port)
        self.error = ""
        stdscr = curses.initscr()
        stdscr.clear()               # the first update clears the glass (no alternate
        stdscr.refresh()             # screen on vt100 or the console); never used again
        curses.raw()                 # Ctrl-C/D/Z arrive as keys, not signals to both
        curses.noecho()
        curses.typeahead(-1)         # never cut an update short: models must stay true
        try:
            curses.curs_set(1)
        except curses.error:
            pass
        self.attrs = _attributes()
        self.layout = screen.apply_size(*screen.terminal_size())
        self.wins = screen.ChatWindows.create(self.layout)
        self.view = MessagesView(self.layout.cols, self.layout.pane_height,
                                 indicator=lambda n: render.scroll_indicator(self.lang, n))
        self.keys = screen.KeyDecoder()
        self.signals = screen.SignalPipe(WATCHED_SIGNALS)
        fd, self.lock_path = tempfile.mkstemp(prefix="chat-tui-", suffix=".lock")
        os.close(fd)
        self.painter = screen.Painter(self.lock_path)
        os.write(1, screen.BRACKETED_PASTE_ON)

    def after_fork(self) -> None:
        """Our own signal pipe and lock descriptor: the inherited ones are shared with
        the other process (a flock on a shared open file excludes nobody)."""
        self.signals = screen.SignalPipe(WATCHED_SIGNALS)
        self.painter = screen.Painter(self.lock_path)

    def restore_modes(self) -> None:
        """After SIGCONT: our tty modes (raw, no echo) and bracketed paste again. While
        we were stopped the shell set its own modes (cooked, echo: Ctrl-L would print
        ^L) and its line editor may have switched bracketed paste off. The modes belong
        to the terminal, not to a process, so one process sets them: the sender, which
        reads the keys and restores the shell's modes at exit. reset_prog_mode puts
        back the modes ncurses saved for the program (raw() and noecho() update them)."""
        try:
            curses.reset_prog_mode()
        except curses.error:
            pass
        try:
            self.painter.write(screen.BRACKETED_PASTE_ON)
        except OSError:
            pass

    def close(self) -> None:
        screen.restore_terminal()
        try:
            os.unlink(self.lock_path)
        except OSError:
            pass

    def say_local(self, text: str) -> None:
        self.show(render.local_line(text))

    def show(self, line: render.Line, searchable: bool = True,
             replacing: Optional[int] = None) -> int:
        """A line for the pane (and the --log file); its number in the pane.
        `searchable` False keeps it out of /lastlog (its own results);
        `replacing` is a line it takes the place of (a pending line's), if that is
        still in the scrollback."""
        if replacing is not None and self.view.replace(replacing, line):
            number = replacing
        else:
            number = self.view.add(line, searchable)
        if self.log is not None:
            self.log.write(line)
        return number

    def size_changed(self) -> bool:
        return screen.terminal_size() != (self.layout.lines, self.layout.cols)

    def resize(self) -> None:
        """New size from the kernel, new windows; the caller hides the other process's
        windows again and repaints its own."""
        self.layout = screen.apply_size(*screen.terminal_size())
        self.wins = screen.ChatWindows.create(self.layout)
        self.view.resize(self.layout.cols, self.layout.pane_height)

    # ------------------------------------------------------------ drawing

    def draw_pane(self) -> None:
        screen.draw_rows(self.wins.pane, self.view.rows(), self.attrs)
        self.wins.pane.move(self.layout.pane_height - 1, 0)

    def draw_status(self, left: str, right: str = "") -> None:
        cols = self.layout.cols
        right = truncate_to_width(right, max(0, cols // 3))
        left = truncate_to_width(left, max(0, cols - text_width(right) - 1))
        fill = cols - text_width(left) - text_width(right)
        try:
            self.wins.status.addstr(0, 0, left + " " * max(0, fill) + right,
                                    self.attrs["status"])
        except curses.error:
            pass                     # the last cell: drawn, but addstr complains

    def draw_input(self, prompt: str, editor: Optional[LineEditor]) -> int:
        """Draw the input line; return the cursor's column."""
        win = self.wins.input
        win.erase()
        prompt = truncate_to_width(prompt, max(0, self.layout.cols - 2))
        col = text_width(prompt)
        win.addstr(0, 0, prompt)
        if editor is not None:
            text, cursor = editor.view(self.layout.cols - col)
            win.addstr(text)
            col += cursor
        win.move(0, col)
        return col

    # ------------------------------------------------------------ keys

    def read_keys(self, ready: bool) -> List[Tuple[str, str]]:
        """Keys from stdin if `ready`, else the Escape key left waiting by a pause.
        Raises EOFError when the terminal is gone."""
        if not ready:
            return self.keys.flush()
        try:
            data = os.read(0, stdin.READ_SIZE)
        except OSError:
            data = b""
        if not data:
            raise EOFError
        return self.keys.feed(data)

    def key_timeout(self, timeout: Optional[float]) -> Optional[float]:
        if self.keys.pending:
            return stdin.ESC_WAIT if timeout is None else min(timeout, stdin.ESC_WAIT)
        return timeout
