"""Line mode: `chat.pyz client --plain --name NAME [HOST]`.

For scripts, tests and screen readers. Each stdin line is one message; every
room event is printed as one line on stdout, exactly as the course defined them
(`张三 进入了聊天室`, `张三 : text`, `张三 退出了聊天室`, `管理员消息: text`).
The client's own messages are not printed back.

A multi-line message (a paste from the curses client) is printed as its first
line, then one line per further line of the message, each starting with
CONTINUATION (" | "). No event line starts with a space (names are stripped;
the other lines start with a word, "*", "--" or, with --timestamps, "["), so a
script joins a message back with: a line starting with " | " continues the one
above, without its first three characters. Tabs arrive expanded to spaces.

Each input line is sent as one message: line mode cannot tell a paste from
typing, and a line's trailing backslash is text like any other (scripts send
Windows paths). A multi-line message is sent from the curses client (a paste).

Input, and when it ends (README's command table): each line read is sent; end of
input (a pipe or a file read to its end, Ctrl-D on a terminal) leaves once what
was read is sent. A stdin that gives no input at all, closed (`<&-`) or
/dev/null, is not an end: the client joins and listens, and leaves on
SIGINT, SIGTERM or SIGHUP. On a terminal with no --name, the name is asked for
(and asked again when the server refuses it).
"""
import os
import selectors
import signal
import stat
import sys
import time
from typing import Optional

from app.core import protocol
from app.core.client_core import BadName
from app.core.exit_codes import ExitCode
from app.core.options import ClientOptions
from app.core.text import split_name
from app.net import files, identity
from app.net.client_net import ClientConnection, ClientNote, ConnectError, Status
from app.net.signals import SignalPipe
from app.ui import environment, render, stdin
from app.ui.os_words import problem_text
from app.ui.render import CONTINUATION

HAND_IN_COMMANDS = ("/hand-in", "/交作业")


def stdin_input() -> Optional[int]:
    """The descriptor to read lines from, or None when stdin gives no input at all:
    closed (Python then has no sys.stdin, and the descriptor may soon be a socket's)
    or /dev/null. Asked before any socket is opened."""
    if sys.stdin is None:
        return None
    try:
        fd = sys.stdin.fileno()
        mine, null = os.fstat(fd), os.stat(os.devnull)
    except (OSError, ValueError):
        return None
    if stat.S_ISCHR(mine.st_mode) and mine.st_rdev == null.st_rdev:
        return None
    return fd


def ask_name(lang: str, fd: int) -> Optional[str]:
    """The name typed on the terminal `fd` (line by line, as the kernel hands it
    over); None at end of input."""
    prompt = environment.text(lang, "name_prompt").encode("utf-8")
    for _ in range(100):              # empty lines ask again; a bound all the same
        os.write(2, prompt)
        line = b""
        while not line.endswith(b"\n"):
            try:
                data = os.read(fd, stdin.READ_SIZE)
            except OSError:           # EIO: the terminal is gone
                data = b""
            if not data:
                return None
            line += data
        name = line.decode("utf-8", "replace").strip()
        if name:
            return name
    return None


def run(options: ClientOptions) -> int:
    environment.utf8_streams()
    input_fd = stdin_input()
    asking = not options.name         # on a terminal: asked, and asked again if refused
    if asking and (input_fd is None or not os.isatty(input_fd)):
        environment.say(environment.text(options.lang, "name_needed"))
        return ExitCode.USAGE
    if options.host is None:                      # no HOST: find the server on the LAN
        from app.ui import discovery_texts

        host, code, lines = discovery_texts.find_for_client(options.port, options.lang)
        for line in lines:
            print(line, file=sys.stderr, flush=True)
        if host is None:
            return code
        options = options.with_host(host)
    for _ in range(100):              # each turn waits for a person; a bound all the same
        name = ask_name(options.lang, input_fd) if input_fd is not None and asking \
            else options.name
        if name is None:
            return ExitCode.OK        # end of input at the prompt: nothing was refused
        code = join(options, name, input_fd)
        if code != ExitCode.REFUSED or not asking:
            return code
    return ExitCode.REFUSED


def join(options: ClientOptions, name: str, input_fd: Optional[int]) -> int:
    """Join the room under `name` and stay until the end; the exit code."""
    assert options.host is not None
    try:
        security = identity.client_security(options.password, options.insecure,
                                            options.accept_new_key)
    except (identity.KeyStoreError, identity.CryptoUnavailable) as exc:
        print("chat.pyz: %s" % problem_text(str(exc), options.lang), file=sys.stderr)
        return ExitCode.ERROR
    downloads, where = files.downloads_dir(options.downloads)
    for note in (security.notes if security is not None else []) + ([where] if where else []):
        print("chat.pyz: %s" % problem_text(note, options.lang), file=sys.stderr)
    try:
        conn = ClientConnection(options.host, options.port, name, time.monotonic(),
                                room_key=options.room_key, security=security,
                                downloads=downloads)
    except ConnectError as exc:
        print("chat.pyz: %s" % problem_text(str(exc), options.lang), file=sys.stderr)
        return ExitCode.UNREACHABLE
    except BadName as exc:            # refused here, before the server is asked
        print("chat.pyz: " + render.tr(options.lang, "bad_name", reason=render.name_problem_text(
            exc.problem, options.lang)), file=sys.stderr)
        return ExitCode.REFUSED
    return PlainClient(conn, options, input_fd).loop()


def event_text(event: protocol.Event, lang: str, my_name: str, my_instance: int) -> str:
    """One event as plain text: the curses client's line without its [HH:MM]; the
    further lines of a multi-line message on lines of their own after CONTINUATION."""
    plain = event._replace(flags=event.flags & ~protocol.EVF_HISTORY)
    segments = render.render(plain, lang, my_name, my_instance)
    text = "".join(part for part, style in segments if style != "time")
    return text.replace("\n", "\n" + CONTINUATION)


class PlainClient:
    def __init__(self, conn: ClientConnection, options: ClientOptions,
                 input_fd: Optional[int] = 0) -> None:
        self.conn = conn
        self.options = options
        self.started = time.monotonic()
        self.input_fd = input_fd
        self.stdin_open = input_fd is not None    # no input at all is not its end
        self.listen_only = input_fd is None
        self.eof_at: Optional[float] = None
        self.partial = b""
        self.stop_signal = False
        self.exit_code: Optional[int] = None
        self.last_state = ""
        self.out = sys.stdout
        self.signals = SignalPipe((signal.SIGINT, signal.SIGTERM, signal.SIGHUP))

    def loop(self) -> int:
        sel = selectors.DefaultSelector()
        sel.register(self.conn.fileno(), selectors.EVENT_READ, "net")
        sel.register(self.signals.fileno(), selectors.EVENT_READ, "signals")
        stdin_fd = self.input_fd
        # A regular file cannot be polled (epoll refuses it) but never blocks: it
        # is read a chunk a turn, with no wait while some is left.
        unpolled = False
        if stdin_fd is not None:
            try:
                sel.register(stdin_fd, selectors.EVENT_READ, "stdin")
            except OSError:           # EPERM: a regular file
                unpolled = True
        while self.exit_code is None:
            timeout = self.conn.tick(time.monotonic())
            if unpolled and self.stdin_open:
                timeout = 0
            for key, _ in sel.select(timeout):
                if key.data == "net":
                    self.conn.on_readable(time.monotonic())
                elif key.data == "signals":
                    self.stop_signal = bool(self.signals.take()) or self.stop_signal
                elif key.data == "stdin" and not self._read_stdin(key.fd):
                    sel.unregister(key.fd)
                    self.stdin_open = False
            if unpolled and self.stdin_open and stdin_fd is not None \
                    and not self._read_stdin(stdin_fd):
                self.stdin_open = False
            self._show_events()
            if self.stop_signal:
                self._leave()
                return ExitCode.OK
            self._check_connect_timeout()
            if not self.stdin_open and not self.listen_only and self.exit_code is None:
                # EOF: leave once joined and what we typed is sent (piped input
                # arrives before the handshake is done).
                if self.conn.state == "joined":
                    self._leave()
                    return ExitCode.OK
                if self.eof_at is None:
                    self.eof_at = time.monotonic()
                elif (self.conn.ever_joined
                      and time.monotonic() - self.eof_at > self.options.connect_timeout):
                    self._err(render.tr(self.options.lang, "not_delivered",
                                        count=len(self.conn.core.pending)))
                    self.exit_code = ExitCode.UNREACHABLE
        self.conn.close()
        return self.exit_code

    def _read_stdin(self, fd: int) -> bool:
        """Submit the whole lines read; False at end of input."""
        try:
            data = os.read(fd, stdin.READ_SIZE)
        except OSError:               # EIO: the terminal is gone; an end like EOF
            data = b""
        if not data:
            if self.partial:
                self._submit(self.partial)
            return False
        lines = (self.partial + data).split(b"\n")
        self.partial = lines.pop()
        for line in lines:
            self._submit(line)
        return True

    def _submit(self, raw: bytes) -> None:
        line = raw.decode("utf-8", "replace").rstrip("\r")
        if not line.strip():
            return
        if line.strip() == "/quit":
            self.stdin_open = False
        elif line.strip() == "/who":
            self.conn.who()
        elif line.strip() == "/key":          # the server's fingerprint, to compare aloud
            words = self.conn.server_fingerprint
            self._err(render.tr(self.options.lang, "server_key", words=words) if words
                      else render.tr(self.options.lang, "not_encrypted"))
        elif line.split(" ", 1)[0] in HAND_IN_COMMANDS:
            self._hand_in(line.split(" ", 1)[1].strip() if " " in line else "")
        elif line.startswith("/me "):
            self.conn.emote(line[4:])
        elif line.startswith("/msg "):
            name, text = split_name(line[len("/msg "):])  # as every command reads a name
            if name and text.strip():
                self.conn.private(name, text)
            else:
                self._err(render.tr(self.options.lang, "usage_msg"))
        else:
            self.conn.say(line)

    def _hand_in(self, path: str) -> None:
        lang = self.options.lang
        if not path:
            self._err(render.tr(lang, "usage_hand_in"))
            return
        problem = self.conn.hand_in(os.path.expanduser(path), time.monotonic())
        if problem:
            self._err(render.tr(lang, "hand_in_problem", reason=problem_text(problem, lang)))

    def _leave(self) -> None:
        self._flush_unsent()
        self.conn.goodbye(time.monotonic)

    def _flush_unsent(self, limit: float = 2.0) -> None:
        """Before leaving on EOF, give the lines just typed a moment to be acked."""
        core = self.conn.core
        deadline = time.monotonic() + limit
        sel = selectors.DefaultSelector()
        sel.register(self.conn.fileno(), selectors.EVENT_READ)
        while (core.state == "joined" and core.stream is not None and core.stream.queued
               and time.monotonic() < deadline):
            sel.select(min(self.conn.tick(time.monotonic()), 0.05))
            self.conn.on_readable(time.monotonic())
            self._show_events()
        sel.close()

    def _check_connect_timeout(self) -> None:
        if self.conn.ever_joined or self.exit_code is not None:
            return
        if time.monotonic() - self.started > self.options.connect_timeout:
            lang = self.options.lang
            self._err(render.tr(lang, "no_server", server=self.conn.server_text,
                                why=render.detail_text(self.conn.hint or "no_answer", lang),
                                seconds=round(self.options.connect_timeout),
                                port=self.options.port))
            self.exit_code = ExitCode.UNREACHABLE

    def _show_events(self) -> None:
        for event in self.conn.take_events():
            if isinstance(event, Status):
                self._on_status(event)
                continue
            if isinstance(event, ClientNote):
                self._err(problem_text(event.problem, self.options.lang))
                continue
            if isinstance(event, files.NEWS_TYPES):        # one line per finished file
                text, good = render.file_news_text(event, self.options.lang)
                if good:
                    self.out.write(text + "\n")
                else:
                    self._err(text)
                continue
            if not isinstance(event, protocol.Event):
                continue                  # our own lines' progress: ours are not printed
            if event.origin == self.conn.instance and event.kind in (
                    protocol.EV_CHAT, protocol.EV_EMOTE, protocol.EV_PRIVATE):
                continue                  # our own message, echoed by the server
            line = event_text(event, self.options.lang, self.conn.name, self.conn.instance)
            if self.options.timestamps:
                line = time.strftime("[%H:%M:%S] ", time.localtime(event.time)) + line
            self.out.write(line + "\n")
        self.out.flush()

    def _on_status(self, status: Status) -> None:
        if status.state == "refused":
            self._err(render.refusal_reason(self.conn.refusal, self.options.lang,
                                            self.conn.refusal_coded, self.conn.name)
                      or status.detail or render.tr(self.options.lang, "refused_plain"))
            self.exit_code = ExitCode.REFUSED
        elif status.state == "closed" and status.detail not in ("leaving", "left"):
            # Kicked or banned: what happened and what to do, then exit 3 (the
            # curses client says the same and ends after a key or a few seconds).
            self._err(self._farewell() or status.detail)
            self.exit_code = ExitCode.REFUSED
        elif status.state == "reconnecting" and self.conn.farewell is not None:
            if self.last_state != "reconnecting":
                self._err(self._farewell())     # the server shut down: we wait for it
        elif status.state == "reconnecting" and status.detail:
            self._err(render.tr(self.options.lang, "lost", why=render.detail_text(
                status.detail, self.options.lang)))
        self.last_state = status.state

    def _farewell(self) -> str:
        return render.farewell_text(self.conn.farewell, self.options.lang, time.time(),
                                    coded=self.conn.farewell_coded)

    def _err(self, message: str) -> None:
        print("chat.pyz: %s" % message, file=sys.stderr, flush=True)
