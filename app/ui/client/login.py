"""Before the fork: finding the server, and joining the room under a name.

`find_host` searches the LAN when no HOST was given (before curses starts, so
its report and the pick list stay on the normal screen). `Login` then asks for
a name, connects, and asks again after a refusal, until joined or given up.
"""
import selectors
import signal
import sys
import time
from typing import TYPE_CHECKING, Any, Callable, List, Optional, Sequence, Tuple

from app.core import protocol
from app.core.client_core import Status
from app.core.exit_codes import ExitCode
from app.core.options import ClientOptions
from app.core.text import check_name
from app.net import identity
from app.net import files
from app.net.client_net import ClientConnection, ClientNote, ConnectError
from app.ui import render
from app.ui.os_words import problem_text
from app.ui.client.terminal import Terminal
from app.ui.line_editor import LineEditor, one_line

if TYPE_CHECKING:
    from app.core.discovery_wire import Found

UNREACHABLE_AFTER = 2.0    # seconds of silence before login says the server is unreachable

# ClientConnection's constructor (host, port, name, now, room_key=...); tests pass
# a scripted fake with the same interface.
ConnectionFactory = Callable[..., ClientConnection]


def find_host(port: int, lang: str) -> Tuple[Optional[str], int]:
    """No HOST given: look for the server on the LAN before curses starts, so the
    search's report stays on the normal screen. (host, _) when found, else
    (None, exit code)."""
    from app.ui import discovery_texts   # only when searching: most runs name the host

    host, code, lines = discovery_texts.find_for_client(
        port, lang, pick=lambda servers: pick_server(servers, lang))
    for line in lines:
        sys.stderr.write(line + "\n")
    return host, code


def pick_server(servers: Sequence["Found"], lang: str, read: Callable[[], str] = input,
                write: Callable[[str], Any] = sys.stderr.write) -> Optional["Found"]:
    """Several servers answered: a numbered pick list on the normal screen (before
    curses starts, so it also works for screen readers). None: the user declined."""
    from app.ui import discovery_texts

    write("chat.pyz: %s\n" % discovery_texts.pick_list_header(len(servers), lang))
    for number, server in enumerate(servers, 1):
        write("  %d) %s\n" % (number, discovery_texts.describe(server, lang)))
    while True:
        write(discovery_texts.pick_list_prompt(len(servers), lang))
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


# Refusals after which another name may get in (not a kick, nor a ban of the
# host or the client, nor a full room).
ANOTHER_NAME_HELPS = (protocol.ReasonCode.BANNED_NAME, protocol.ReasonCode.TAKEN,
                      protocol.ReasonCode.LOOKS_LIKE)


class Login:
    """Ask for a name, connect, re-ask after a refusal, until joined or left."""

    def __init__(self, term: Terminal, options: ClientOptions,
                 factory: ConnectionFactory) -> None:
        self.term = term
        self.options = options
        self.factory = factory
        self.conn: Optional[ClientConnection] = None
        self.editor = LineEditor(max_bytes=protocol.MAX_NAME_BYTES)
        self.asking = not options.name
        self.name = options.name or ""
        self.started = time.monotonic()
        self.pending: List[protocol.Event] = []   # room events that came with the WELCOME
        self.refused = False
        self.hint_shown = ""       # the network's reason last shown in the pane

    def tr(self, key: str, **values: Any) -> str:
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
                self._events(self.conn)
                if self.conn.state == "joined":
                    term.say_local(self.tr("joined_as", name=self.conn.name, server=term.server))
                    if self.conn.server_fingerprint:
                        term.say_local(self.tr("server_key", words=self.conn.server_fingerprint))
                    return None
            self._paint()
            timeout = None
            if self.conn is not None:
                timeout = self.conn.tick(time.monotonic())
                if not self.asking:
                    timeout = min(timeout, 1.0)        # the "still trying (N s)" counter
            ready = {key.data for key, _ in sel.select(term.key_timeout(timeout))}
            if "net" in ready and self.conn is not None:
                self.conn.on_readable(time.monotonic())
            if "signals" in ready:
                for signum in term.signals.take():
                    if signum == signal.SIGCONT:       # `fg`: our modes back, all repainted
                        term.restore_modes()
                    elif signum != signal.SIGWINCH:
                        return self._give_up()
                    self._resize()
            if "keys" in ready or term.keys.pending:
                try:
                    keys = term.read_keys("keys" in ready)
                except EOFError:
                    return self._give_up()
                for kind, value in keys:
                    if kind == "key" and value in ("^C", "^D"):
                        # At the name prompt (also after a refusal) it is a
                        # deliberate quit: exit 0, not "refused".
                        return ExitCode.OK if self._quit_at_prompt() else self._give_up()
                    if self.asking:
                        self._edit(kind, value)

    def _edit(self, kind: str, value: str) -> None:
        if kind == "text" or kind == "paste":
            self.editor.insert(one_line(value))
        elif value == "enter":
            self._try_name(self.editor.submit())
        else:
            self.editor.handle(value)

    def _try_name(self, raw: str) -> None:
        name, problem = check_name(raw)
        if name is None:
            self.term.say_local(self.tr("bad_name", reason=render.name_problem_text(
                problem, self.term.lang)))
            self.editor.set_text(raw)
            self.asking = True
            return
        self.name, self.asking, self.started = name, False, time.monotonic()
        self.term.say_local(self.tr("connecting", server=self.term.server))
        if self.conn is None:
            try:
                security = identity.client_security(self.options.password, self.options.insecure,
                                                    self.options.accept_new_key)
                downloads, where = files.downloads_dir(self.options.downloads)
                for note in (security.notes if security is not None else []) + (
                        [where] if where else []):
                    self.term.say_local(problem_text(note, self.options.lang))
                self.conn = self.factory(self.options.host, self.options.port, name,
                                         time.monotonic(), room_key=self.options.room_key,
                                         security=security, downloads=downloads)
            except (ConnectError, identity.KeyStoreError, identity.CryptoUnavailable) as exc:
                # e.g. an unknown host name, a damaged key file, no libcrypto
                self.term.error = problem_text(str(exc), self.options.lang)
            except ValueError as exc:     # a name the protocol core will not send
                problem = getattr(exc, "problem", None)      # (client_core.BadName's)
                self.term.say_local(self.tr("bad_name", reason=render.name_problem_text(
                    problem, self.term.lang) if problem is not None else exc))
                self.editor.set_text(raw)
                self.asking = True
        else:
            self.conn.rename(name, time.monotonic())

    def _events(self, conn: ClientConnection) -> None:
        for event in conn.take_events():
            if isinstance(event, Status):
                if event.state == "refused":
                    self.refused = True
                    coded = conn.refusal_coded
                    self.term.say_local(self.tr("refused", reason=render.refusal_reason(
                        conn.refusal, self.options.lang, coded, self.name) or event.detail))
                    if coded is None or coded.why in ANOTHER_NAME_HELPS:
                        self.term.say_local(self.tr("try_again"))   # (another name helps)
                    self.asking = True
                    self.editor.set_text(self.name)
            elif isinstance(event, protocol.Event):
                self.pending.append(event)
            elif isinstance(event, ClientNote):
                self.term.say_local(problem_text(event.problem, self.options.lang))

    def _resize(self) -> None:
        """New windows at the new size, every one repainted whole: ncurses' model
        of the old windows would otherwise skip rows it believes are drawn (the
        name prompt's hint was lost that way)."""
        self.term.resize()
        for window in self.term.wins:
            window.redrawwin()

    def _quit_at_prompt(self) -> bool:
        """Quit keys at the name prompt leave quietly (the connection, if any, is
        closed); True if that is where we are."""
        if not self.asking:
            return False
        conn, self.conn = self.conn, None
        if conn is not None:
            conn.close()
        return True

    def _show_hint(self) -> None:
        """Why the server cannot be reached, whole, in the pane (wrapped there);
        the status line has room only for the counter."""
        hint = getattr(self.conn, "hint", "") if self.conn is not None else ""
        if hint and hint != self.hint_shown:
            self.term.say_local(self.tr("unreachable_why",
                                        reason=render.detail_text(hint, self.options.lang)))
        self.hint_shown = hint

    def _paint(self) -> None:
        term = self.term
        if not term.layout.usable:
            return
        if self.asking or self.conn is None:
            status = term.server
        elif time.monotonic() - self.started >= UNREACHABLE_AFTER:
            status = self.tr("unreachable", server=term.server,
                             seconds=time.monotonic() - self.started)
            self._show_hint()
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
        if conn is not None and conn.state == "connecting":
            hint = getattr(conn, "hint", "")
            if hint and not self.term.error:    # the reason, whole, after the screen goes
                self.term.error = self.tr("gave_up", server=self.term.server,
                                          reason=render.detail_text(hint, self.options.lang))
            return ExitCode.UNREACHABLE
        return ExitCode.OK

