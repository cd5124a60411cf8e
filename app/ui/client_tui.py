"""The curses client: `chat.pyz client [HOST] [--port P] [--name NAME]`.

One process logs in (asks for a name, shows refusals and an unreachable server),
then forks:

  child  = receiver: owns the ClientConnection (one process must own the reliable
           session: acks, retransmits, reconnects), runs one selectors loop over
           the UDP socket, the control pipe from the sender and its signal pipe,
           and draws the message pane.
  parent = sender: reads keys, draws the status line and the input line, and
           passes submitted lines, scroll keys and Ctrl-L down the control pipe;
           the child sends the connection's status and the names for Tab
           completion back up a second pipe.

EOF on either pipe means the other process died. Only the parent calls endwin()
(unless it died first); the child ends with os._exit. How both draw on one
terminal without damage is screen.py's job (see TWO_PROCESS_CURSES.md).

`run(options, connection_factory)`: the factory is ClientConnection's constructor
(host, port, name, now); tests pass a scripted fake with the same interface.
"""
import curses
import json
import locale
import mmap
import os
import select
import selectors
import signal
import struct
import sys
import tempfile
import time
from typing import List, Optional, Tuple

from app.core import protocol
from app.core.exit_codes import ExitCode
from app.core.options import ClientOptions
from app.core.text import check_name, sanitize_text, split_utf8
from app.net.client_net import ConnectError
from app.ui import render, screen
from app.ui.line_editor import LineEditor, one_line
from app.ui.messages_view import MessagesView
from app.ui.width import text_width, truncate_to_width

ESC_WAIT = 0.05            # a lone ESC is the Escape key if nothing follows this soon
QUIT_WAIT = 1.0            # the sender waits this long for the receiver, then SIGKILL
GOODBYE_WAIT = 0.4         # the receiver waits this long for the server's BYE_ACK
SIGNAL_WAIT = 0.3          # after a signal, how long the receiver waits to learn if the sender lives
UNREACHABLE_AFTER = 2.0    # seconds of silence before login says the server is unreachable
MAX_INPUT_BYTES = 4 * protocol.MAX_TEXT_BYTES   # a paste past this is refused, visibly
LEAVE_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
READ_SIZE = 65536


def run(options: ClientOptions, connection_factory=None) -> int:
    if connection_factory is None:
        from app.net.client_net import ClientConnection as connection_factory
    if options.host is None:
        host, code = _find_host(options.port)
        if host is None:
            return code
        options = options.with_host(host)
    locale.setlocale(locale.LC_ALL, "")
    term = Terminal(options)
    login = Login(term, options, connection_factory)
    code = ExitCode.ERROR
    try:
        code = login.run()
    finally:
        if code is not None:
            term.close()
    if code is not None:
        if term.error:
            sys.stderr.write("chat.pyz: %s\n" % term.error)
        return code
    return split(term, login.conn, options, login.pending)


def _find_host(port: int) -> Tuple[Optional[str], int]:
    """No HOST given: look for the server on the LAN before curses starts, so the
    search's report stays on the normal screen. (host, _) when found, else
    (None, exit code)."""
    from app.ui import discovery_texts

    host, code, lines = discovery_texts.find_for_client(port, pick=_pick_server)
    for line in lines:
        sys.stderr.write(line + "\n")
    return host, code


def _pick_server(servers, read=input, write=sys.stderr.write):
    """Several servers answered: a numbered pick list on the normal screen (before
    curses starts, so it also works for screen readers). None: the user declined."""
    from app.ui import discovery_texts

    write("chat.pyz: %d chat servers answered:\n" % len(servers))
    for number, server in enumerate(servers, 1):
        write("  %d) %s\n" % (number, discovery_texts.describe(server)))
    while True:
        write("choose 1-%d (Enter: 1, q: quit): " % len(servers))
        try:
            answer = read().strip().lower()
        except (EOFError, KeyboardInterrupt):
            write("\n")
            return None
        if answer in ("q", "quit"):
            return None
        if not answer:
            return servers[0]
        if answer.isdigit() and 1 <= int(answer) <= len(servers):
            return servers[int(answer) - 1]


# ---------------------------------------------------------------- commands

def parse_command(line: str, lang: str) -> Optional[tuple]:
    """A submitted line -> ("say"|"emote", text) | ("msg", name, text) | ("who",) |
    ("help",) | ("quit",) | ("hint", text shown to us only) | None for nothing."""
    if not line.strip():
        return None
    if line.startswith("//"):
        return ("say", line[1:])
    if not line.startswith("/"):
        return ("say", line)
    command, _, rest = line[1:].partition(" ")
    command = command.lower()
    if command in ("quit", "exit"):
        return ("quit",)
    if command in ("who", "names"):
        return ("who",)
    if command == "help":
        return ("help",)
    if command == "me":
        return ("emote", rest.strip()) if rest.strip() else ("hint", render.tr(lang, "usage_me"))
    if command in ("msg", "m"):
        name, _, text = rest.strip().partition(" ")
        if name and text.strip():
            return ("msg", name, text.strip())
        return ("hint", render.tr(lang, "usage_msg"))
    return ("hint", render.tr(lang, "unknown_command", command="/" + command))


# ---------------------------------------------------------------- the terminal

def _attributes() -> dict:
    """Style name (render.py) -> curses attribute."""
    mono = {"": 0, "text": 0, "time": 0, "notice": 0, "history": curses.A_DIM,
            "self": curses.A_BOLD, "mention": curses.A_BOLD,
            "admin": curses.A_BOLD | curses.A_REVERSE, "private": curses.A_UNDERLINE,
            "indicator": curses.A_REVERSE, "status": curses.A_REVERSE}
    palette = (curses.COLOR_RED, curses.COLOR_GREEN, curses.COLOR_YELLOW,
               curses.COLOR_BLUE, curses.COLOR_MAGENTA, curses.COLOR_CYAN)
    mono.update(("name%d" % i, 0) for i in range(render.NAME_COLOURS))
    colours = [("name%d" % i, colour, None, 0) for i, colour in enumerate(palette)]
    colours += [("admin", curses.COLOR_WHITE, curses.COLOR_RED, curses.A_BOLD),
                ("private", curses.COLOR_MAGENTA, None, curses.A_BOLD),
                ("mention", curses.COLOR_YELLOW, None, curses.A_BOLD),
                ("notice", curses.COLOR_CYAN, None, 0)]
    return screen.colour_attributes(mono, colours)


class Terminal:
    """Curses set up for two processes: raw keys, all windows made before fork."""

    def __init__(self, options: ClientOptions):
        self.lang = options.lang
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
        self.signals = screen.SignalPipe((signal.SIGWINCH,) + LEAVE_SIGNALS)
        fd, self.lock_path = tempfile.mkstemp(prefix="chat-tui-", suffix=".lock")
        os.close(fd)
        self.painter = screen.Painter(self.lock_path)
        os.write(1, screen.BRACKETED_PASTE_ON)

    def close(self) -> None:
        screen.restore_terminal()
        try:
            os.unlink(self.lock_path)
        except OSError:
            pass

    def say_local(self, text: str) -> None:
        self.view.add(render.local_line(text))

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
            data = os.read(0, READ_SIZE)
        except OSError:
            data = b""
        if not data:
            raise EOFError
        return self.keys.feed(data)

    def key_timeout(self, timeout: Optional[float]) -> Optional[float]:
        if self.keys.pending:
            return ESC_WAIT if timeout is None else min(timeout, ESC_WAIT)
        return timeout


# ---------------------------------------------------------------- login

class Login:
    """Ask for a name, connect, re-ask after a refusal, until joined or left."""

    def __init__(self, term: Terminal, options: ClientOptions, factory):
        self.term = term
        self.options = options
        self.factory = factory
        self.conn = None
        self.editor = LineEditor(max_bytes=protocol.MAX_NAME_BYTES)
        self.asking = not options.name
        self.name = options.name or ""
        self.started = time.monotonic()
        self.pending: list = []       # room events that came with the WELCOME
        self.refused = False

    def tr(self, key, **values):
        return render.tr(self.term.lang, key, **values)

    def run(self) -> Optional[int]:
        """None once joined (self.conn, self.pending), else the exit code."""
        term = self.term
        if self.asking:
            term.say_local(self.tr("ask_name"))
        else:
            self._try_name(self.name)
        sel = selectors.DefaultSelector()
        sel.register(0, selectors.EVENT_READ, "keys")
        sel.register(term.signals.fileno(), selectors.EVENT_READ, "signals")
        while True:
            if self.conn is None and not self.asking:
                return ExitCode.UNREACHABLE            # the address cannot be used at all
            if self.conn is not None:
                if self.conn.fileno() not in sel.get_map():
                    sel.register(self.conn.fileno(), selectors.EVENT_READ, "net")
                self._events()
                if self.conn.state == "joined":
                    term.say_local(self.tr("joined_as", name=self.conn.name, server=term.server))
                    return None
            self._paint()
            timeout = None
            if self.conn is not None:
                timeout = self.conn.tick(time.monotonic())
                if not self.asking:
                    timeout = min(timeout, 1.0)        # the "still trying (N s)" counter
            ready = {key.data for key, _ in sel.select(term.key_timeout(timeout))}
            if "net" in ready:
                self.conn.on_readable(time.monotonic())
            if "signals" in ready:
                for signum in term.signals.take():
                    if signum != signal.SIGWINCH:
                        return self._give_up()
                    term.resize()
            if "keys" in ready or term.keys.pending:
                try:
                    keys = term.read_keys("keys" in ready)
                except EOFError:
                    return self._give_up()
                for kind, value in keys:
                    if kind == "key" and value in ("^C", "^D"):
                        return self._give_up()
                    if self.asking:
                        self._edit(kind, value)

    def _edit(self, kind, value):
        if kind == "text" or kind == "paste":
            self.editor.insert(one_line(value))
        elif value == "enter":
            self._try_name(self.editor.submit())
        else:
            self.editor.handle(value)

    def _try_name(self, raw: str) -> None:
        name, reason = check_name(raw)
        if name is None:
            self.term.say_local(self.tr("bad_name", reason=reason))
            self.editor.set_text(raw)
            self.asking = True
            return
        self.name, self.asking, self.started = name, False, time.monotonic()
        self.term.say_local(self.tr("connecting", server=self.term.server))
        if self.conn is None:
            try:
                self.conn = self.factory(self.options.host, self.options.port, name, time.monotonic(),
                                         room_key=self.options.room_key)
            except ConnectError as exc:   # an unknown host name, an unusable address
                self.term.error = str(exc)
            except ValueError as exc:     # a name the protocol core will not send
                self.term.say_local(self.tr("bad_name", reason=exc))
                self.editor.set_text(raw)
                self.asking = True
        else:
            self.conn.rename(name, time.monotonic())

    def _events(self) -> None:
        for event in self.conn.take_events():
            if not isinstance(event, protocol.Event):
                if event.state == "refused":
                    self.refused = True
                    self.term.say_local(self.tr("refused", reason=render.refusal_reason(
                        self.conn.refusal, self.options.lang) or event.detail))
                    self.term.say_local(self.tr("try_again"))
                    self.asking = True
                    self.editor.set_text(self.name)
            else:
                self.pending.append(event)

    def _paint(self) -> None:
        term = self.term
        if not term.layout.usable:
            return
        if self.asking or self.conn is None:
            status = term.server
        elif time.monotonic() - self.started >= UNREACHABLE_AFTER:
            status = self.tr("unreachable", server=term.server,
                             seconds=time.monotonic() - self.started)
            hint = getattr(self.conn, "hint", "")
            status += (" (%s)" % hint) if hint else ""
        else:
            status = self.tr("connecting", server=term.server)
        term.draw_pane()
        term.draw_status(" " + status)
        term.draw_input(self.tr("name_prompt") if self.asking else "", self.editor)
        term.painter.paint(term.wins)

    def _give_up(self) -> int:
        conn, self.conn = self.conn, None
        if conn is not None:
            conn.close()
        if self.refused:
            return ExitCode.REFUSED
        return ExitCode.UNREACHABLE if conn is not None and conn.state == "connecting" \
            else ExitCode.OK


# ---------------------------------------------------------------- the two processes

class Channel:
    """JSON lines over a pair of pipe ends; receive() returns None at EOF."""

    def __init__(self, read_fd: int, write_fd: int):
        self.read_fd, self.write_fd = read_fd, write_fd
        self._partial = b""

    def send(self, **message) -> None:
        data = (json.dumps(message, ensure_ascii=False) + "\n").encode("utf-8")
        try:
            while data:
                data = data[os.write(self.write_fd, data):]
        except OSError:
            pass                       # the other process is gone; its EOF tells us

    def receive(self) -> Optional[list]:
        try:
            data = os.read(self.read_fd, READ_SIZE)
        except OSError:
            data = b""
        if not data:
            return None
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        return [json.loads(line) for line in lines if line]


class SharedCursor:
    """The input cursor's screen position, published by the sender for the receiver."""

    def __init__(self):
        self._mem = mmap.mmap(-1, 8)   # anonymous and shared across fork
        self.set(-1, -1)

    def set(self, y: int, x: int) -> None:
        struct.pack_into("ii", self._mem, 0, y, x)

    def get(self) -> Tuple[int, int]:
        return struct.unpack_from("ii", self._mem, 0)


def split(term: Terminal, conn, options: ClientOptions, pending: list) -> int:
    """Fork into receiver (child) and sender (parent); the parent's return is the exit code."""
    down_r, down_w = os.pipe()         # sender -> receiver
    up_r, up_w = os.pipe()             # receiver -> sender
    cursor = SharedCursor()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(down_w)
            os.close(up_r)
            code = Receiver(term, conn, options, Channel(down_r, up_w), cursor).run(pending)
        except BaseException:
            _log_crash()
        finally:
            os._exit(code)
    os.close(down_r)
    os.close(up_w)
    sender = Sender(term, options, Channel(up_r, down_w), cursor, pid)
    try:
        return sender.run()
    finally:
        sender.stop_child()
        term.close()
        if sender.child_died:
            sys.stderr.write("chat.pyz: %s\n" % render.tr(options.lang, "receiver_died"))


def _receiver_windows(wins: screen.ChatWindows) -> tuple:
    return (wins.pane,)


def _sender_windows(wins: screen.ChatWindows) -> tuple:
    return (wins.status, wins.input)


def _log_crash() -> None:
    """The child cannot print on the screen: CHAT_TUI_LOG names a file for its traceback."""
    path = os.environ.get("CHAT_TUI_LOG")
    if path:
        import traceback
        with open(path, "a") as log:
            traceback.print_exc(file=log)


class _Side:
    """What both processes have: the terminal, the pipe to the other, the shared cursor.
    `own` and `others` pick this process's windows and the other's."""

    own = others = staticmethod(lambda wins: ())

    def __init__(self, term: Terminal, options: ClientOptions, channel: Channel, cursor: SharedCursor):
        self.term = term
        self.options = options
        self.channel = channel
        self.cursor = cursor
        self.lang = options.lang

    def tr(self, key, **values):
        return render.tr(self.lang, key, **values)

    def after_fork(self) -> None:
        """Own signal pipe and lock descriptor (inherited ones are shared with the other
        process), and the other process's windows hidden from our ncurses model."""
        term = self.term
        term.signals = screen.SignalPipe((signal.SIGWINCH,) + LEAVE_SIGNALS)
        term.painter = screen.Painter(term.lock_path)
        term.painter.hide(self.others(term.wins))

    def redraw(self) -> None:
        for window in self.own(self.term.wins):
            window.redrawwin()

    def resize(self) -> None:
        """On SIGWINCH, or when a paint finds the size changed before the signal came."""
        self.term.resize()
        self.term.painter.hide(self.others(self.term.wins))
        self.redraw()
        # A paint of ours at the old size may have scrolled the other's rows (a terminal
        # clamps a stale scroll region to its new bottom): it must repaint them.
        self.channel.send(t="redraw")


class Receiver(_Side):
    """The child: the connection, the message pane, nothing else on the screen."""

    own = staticmethod(_receiver_windows)
    others = staticmethod(_sender_windows)

    def __init__(self, term: Terminal, conn, options: ClientOptions, channel: Channel, cursor: SharedCursor):
        super().__init__(term, options, channel, cursor)
        self.conn = conn
        self.in_history = False
        self.silent_who = 0            # our own /who queries, for Tab completion only
        self.present: set = set()
        self.recent: List[str] = []    # speakers, most recent first
        self.names_sent: list = []
        self.bell = False
        self.dirty = True
        self.state = (conn.state, conn.online, "")

    def run(self, pending: list) -> int:
        term = self.term
        self.after_fork()
        self.channel.send(t="ready")
        self.conn.who()
        self.silent_who += 1
        self._on_events(pending)
        self._send_status()
        sel = selectors.DefaultSelector()
        sel.register(self.conn.fileno(), selectors.EVENT_READ, "net")
        sel.register(self.channel.read_fd, selectors.EVENT_READ, "sender")
        sel.register(term.signals.fileno(), selectors.EVENT_READ, "signals")
        while True:
            timeout = self.conn.tick(time.monotonic())
            self._on_events(self.conn.take_events())
            if self.dirty:
                self._paint()
            for key, _ in sel.select(timeout):
                if key.data == "net":
                    self.conn.on_readable(time.monotonic())
                elif key.data == "signals":
                    for signum in term.signals.take():
                        if signum != signal.SIGWINCH:
                            return self._leave_on_signal()
                        self.resize()
                        self.dirty = True
                elif key.data == "sender":
                    messages = self.channel.receive()
                    if messages is None:            # the sender died: the terminal is ours
                        self._leave()
                        screen.restore_terminal()
                        return 0
                    for message in messages:
                        if message["t"] == "quit":
                            return self._leave()
                        self._on_message(message)

    def _leave(self) -> int:
        """Leave the room at once (the others see it now, not after a time-out)."""
        self.channel.send(t="leaving")     # an orderly exit, not a crash
        try:
            self.conn.goodbye(time.monotonic, GOODBYE_WAIT)
        except OSError:
            pass
        return 0

    def _leave_on_signal(self) -> int:
        """SIGTERM, SIGHUP, SIGINT: leave, and restore the terminal if the sender is dying
        too (a SIGKILLed session leader makes the kernel send us SIGHUP, sometimes before
        its end of the pipe is closed). A live sender answers our "leaving" with "quit"
        (or has sent it already) and restores the terminal itself."""
        self._leave()
        deadline = time.monotonic() + SIGNAL_WAIT
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self.channel.read_fd], [], [], remaining)[0]:
                return 0
            messages = self.channel.receive()
            if messages is None:
                screen.restore_terminal()
                return 0
            if messages:
                return 0

    # ------------------------------------------------------------ from the sender

    def _on_message(self, message: dict) -> None:
        kind = message["t"]
        if kind in ("say", "emote", "msg"):
            self._send_chat(kind, message)
        elif kind == "who":
            self.conn.who()
        elif kind == "local":
            for line in message["lines"]:
                self.term.say_local(line)
        elif kind == "scroll":
            if message["page"] < 0:
                self.term.view.page_up()
            else:
                self.term.view.page_down()
        elif kind == "redraw":
            self.redraw()
        self.dirty = True

    def _send_chat(self, kind: str, message: dict) -> None:
        text = message["text"]
        parts = len(split_utf8(text, protocol.MAX_TEXT_BYTES))
        if parts > 1:   # the connection splits it; say so rather than surprise anyone
            self.term.say_local(self.tr("split", count=parts))
        if kind == "say":
            self.conn.say(text)
        elif kind == "emote":
            self.conn.emote(text)
        else:
            self.conn.private(message["name"], text)
        self.term.view.follow()        # sending means reading the newest again

    # ------------------------------------------------------------ from the network

    def _on_events(self, events) -> None:
        for event in events:
            if not isinstance(event, protocol.Event):
                self._on_status(event)
                continue
            self.dirty = True
            if event.kind == protocol.EV_WHO:
                self.present = set(n for n in event.text.split("\n") if n)
                self._send_names()
                if self.silent_who:
                    self.silent_who -= 1
                    continue
            self._track(event)
            history = bool(event.flags & protocol.EVF_HISTORY)
            if self.in_history and not history:
                self.term.view.add(render.history_divider(self.lang))
            self.in_history = history
            self.term.view.add(render.render(event, self.lang, self.conn.name,
                                             self.conn.instance))
            if render.wants_bell(event, self.options.bell, self.conn.name, self.conn.instance):
                self.bell = True

    def _track(self, event: protocol.Event) -> None:
        """Names for Tab: who is here, and who spoke last."""
        name = event.name
        if not name or event.flags & protocol.EVF_HISTORY and event.kind != protocol.EV_CHAT:
            return
        if event.kind == protocol.EV_JOIN:
            self.present.add(name)
        elif event.kind == protocol.EV_LEAVE:
            self.present.discard(name)
            if name in self.recent:
                self.recent.remove(name)
        elif event.kind in (protocol.EV_CHAT, protocol.EV_EMOTE):
            if name in self.recent:
                self.recent.remove(name)
            self.recent.insert(0, name)
            del self.recent[50:]
        self._send_names()

    def _send_names(self) -> None:
        me = self.conn.name
        names = [n for n in self.recent if n != me]
        names += sorted(n for n in self.present if n != me and n not in names)
        if names != self.names_sent:
            self.names_sent = names
            self.channel.send(t="names", names=names)

    def _on_status(self, status) -> None:
        before = self.state[0]
        self.state = (status.state, status.online, status.detail)
        if status.state == "reconnecting" and before != "reconnecting":
            self.term.say_local(self.tr("state_reconnecting") +
                                (" (%s)" % status.detail if status.detail else ""))
        elif status.state == "joined" and before == "reconnecting":
            self.term.say_local(self.tr("state_joined"))
        elif status.state == "closed" and status.detail not in ("leaving", "left"):
            self.term.say_local(self.tr("closed", reason=status.detail))
        self.dirty = True
        self._send_status()

    def _send_status(self) -> None:
        state, online, detail = self.state
        self.channel.send(t="status", state=state, online=online, detail=detail,
                          name=self.conn.name)

    # ------------------------------------------------------------ screen

    def _paint(self) -> None:
        self.dirty = False
        term = self.term
        if term.size_changed():
            self.resize()
        if not term.layout.usable:
            return
        term.draw_pane()
        bell = b"\a" if self.bell else b""
        self.bell = False
        try:
            term.painter.paint((term.wins.pane,), park=self.cursor.get, extra=bell)
        except (OSError, curses.error):
            pass                         # the terminal is gone (SIGHUP): leaving soon


class Sender(_Side):
    """The parent: keys in, status line and input line out, lines to the receiver."""

    own = staticmethod(_sender_windows)
    others = staticmethod(_receiver_windows)

    def __init__(self, term: Terminal, options: ClientOptions, channel: Channel, cursor: SharedCursor,
                 pid: int):
        super().__init__(term, options, channel, cursor)
        self.pid = pid
        self.editor = LineEditor(max_bytes=MAX_INPUT_BYTES)
        self.names: List[str] = []
        self.status = {"state": "joined", "online": 0, "detail": "", "name": ""}
        self.child_died = False
        self.child_left = False
        self.child_gone = False

    def run(self) -> int:
        term = self.term
        self.after_fork()
        sel = selectors.DefaultSelector()
        sel.register(0, selectors.EVENT_READ, "keys")
        sel.register(self.channel.read_fd, selectors.EVENT_READ, "receiver")
        sel.register(term.signals.fileno(), selectors.EVENT_READ, "signals")
        dirty = True
        while True:
            if dirty:
                self._paint()
            dirty = False
            ready = sel.select(term.key_timeout(None))
            keys_ready = False
            for key, _ in ready:
                if key.data == "receiver":
                    messages = self.channel.receive()
                    if messages is None:           # the receiver ended
                        self.child_died = not self.child_left
                        return 1 if self.child_died else ExitCode.OK
                    for message in messages:
                        self._on_message(message)
                    dirty = True
                elif key.data == "signals":
                    for signum in term.signals.take():
                        if signum != signal.SIGWINCH:
                            return ExitCode.OK
                        self.resize()
                    dirty = True
                elif key.data == "keys":
                    keys_ready = True
            if keys_ready or term.keys.pending:
                try:
                    keys = term.read_keys(keys_ready)
                except EOFError:
                    return ExitCode.OK
                for kind, value in keys:
                    if not self._on_key(kind, value):
                        return ExitCode.OK
                dirty = True

    def _on_message(self, message: dict) -> None:
        kind = message["t"]
        if kind == "leaving":             # it got a signal: show it we are alive
            self.child_left = True
            self.channel.send(t="quit")
        elif kind == "ready":            # the receiver has its own lock descriptor now
            try:
                os.unlink(self.term.lock_path)
            except OSError:
                pass
        elif kind == "status":
            self.status = message
        elif kind == "names":
            self.names = message["names"]
        elif kind == "redraw":
            self.redraw()

    def _on_key(self, kind: str, value: str) -> bool:
        """Apply one key; False to quit."""
        editor = self.editor
        if kind in ("text", "paste"):
            text = one_line(value) if kind == "paste" else sanitize_text(value)
            if not editor.insert(text):
                size = len((editor.text + text).encode("utf-8"))
                self._local(self.tr("too_long", size=size, limit=MAX_INPUT_BYTES))
        elif value == "enter":
            return self._submit(editor.submit())
        elif value == "^C" or (value == "^D" and not editor.chars):
            return False
        elif value == "^D":
            editor.delete()
        elif value in ("pgup", "pgdn"):
            self.channel.send(t="scroll", page=-1 if value == "pgup" else 1)
        elif value == "^L":
            self.channel.send(t="redraw")
            self.redraw()
        else:
            editor.handle(value, self.names)
        return True

    def _submit(self, line: str) -> bool:
        command = parse_command(line, self.lang)
        if command is None:
            return True
        action = command[0]
        if action == "quit":
            return False
        if action == "help":
            self._local(*render.TEXTS[self.lang]["help"])
        elif action == "hint":
            self._local(command[1])
        elif action == "who":
            self.channel.send(t="who")
        elif action == "msg":
            self.channel.send(t="msg", name=command[1], text=command[2])
        else:
            self.channel.send(t=action, text=command[1])
        return True

    def _local(self, *lines: str) -> None:
        """Lines for our eyes only: the receiver shows them in the message pane."""
        self.channel.send(t="local", lines=list(lines))

    def _status_text(self) -> Tuple[str, str]:
        status = self.status
        state = self.tr("state_" + status["state"]) if status["state"] in (
            "connecting", "joined", "reconnecting", "refused", "closed") else status["state"]
        left = " %s | %s | %s" % (self.term.server, self.tr("online", count=status["online"]),
                                  state)
        return left, status.get("name", "") + " "

    def _paint(self) -> None:
        term = self.term
        if term.size_changed():
            self.resize()
        if not term.layout.usable:
            return
        term.draw_status(*self._status_text())
        term.draw_input("> ", self.editor)
        try:
            term.painter.paint((term.wins.status, term.wins.input), after=self.cursor.set)
        except (OSError, curses.error):
            pass

    def stop_child(self) -> None:
        """Tell the receiver to leave; SIGKILL it after QUIT_WAIT; reap it either way."""
        if self.child_gone:
            return
        self.child_gone = True
        if not self.child_died:
            self.channel.send(t="quit")
            deadline = time.monotonic() + QUIT_WAIT
            while time.monotonic() < deadline:      # its exit closes the pipe: EOF
                ready = selectors.DefaultSelector()
                ready.register(self.channel.read_fd, selectors.EVENT_READ)
                got = ready.select(max(0.0, deadline - time.monotonic()))
                ready.close()
                if not got or self.channel.receive() is None:
                    break
        try:
            if os.waitpid(self.pid, os.WNOHANG) == (0, 0):
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass
