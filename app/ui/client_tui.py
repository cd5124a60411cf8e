"""The curses client: `chat.pyz client [HOST] [--port P] [--name NAME]`.

One process checks that curses can draw here (app/ui/environment.py: else line
mode), finds the server if no HOST is given, sets up the terminal and logs
in (asks for a name, shows refusals and an unreachable server), then forks:

  child  = receiver (app/ui/client/receiver.py): owns the ClientConnection and
           draws the message pane;
  parent = sender (app/ui/client/sender.py): reads keys, draws the status line
           and the input line.

They speak over one app.net.channel.Channel in the vocabulary of
app/ui/client/messages.py; EOF on it means the other process died. The sender
publishes the input cursor in shared memory (app.net.processes.SharedCursor).
Only the parent calls endwin() (unless it died first); the child ends with
os._exit. How both draw on one terminal without damage is screen.py's job (see
docs/DESIGN.md, "The two-process curses client").

`run(options, connection_factory)`: the factory is ClientConnection's constructor
(host, port, name, now, room_key=...); tests pass a scripted fake with the same
interface.
"""
import os
import sys
from typing import Optional, Sequence

from app.core.client_core import ClientEvent
from app.core.exit_codes import ExitCode
from app.core.options import ClientOptions
from app.net.channel import Channel
from app.net.client_net import ClientConnection
from app.net.processes import SharedCursor, fork_child
from app.ui import environment, render
from app.ui.client.login import ConnectionFactory, Login, find_host
from app.ui.client.pane_log import open_log
from app.ui.client.receiver import Receiver
from app.ui.client.sender import Sender
from app.ui.client.terminal import Terminal

CRASH_LOG_VARIABLE = "CHAT_TUI_LOG"    # names a file for the receiver's traceback


def run(options: ClientOptions, connection_factory: Optional[ConnectionFactory] = None) -> int:
    """The client's whole life; its exit code."""
    factory: ConnectionFactory = connection_factory or ClientConnection
    verdict = environment.for_curses()    # sets the locale curses draws in
    environment.say(verdict.note(options.lang))
    if not verdict.curses:            # TERM=dumb, unknown or unset; no UTF-8 locale
        from app.ui import client_plain

        return client_plain.run(options)
    log, reason = open_log(options.log, options.lang)     # before curses: a bad path is one line
    if reason:
        sys.stderr.write("chat.pyz: %s\n" % render.tr(options.lang, "log_failed",
                                                      path=options.log, reason=reason))
        return ExitCode.ERROR
    if options.host is None:
        host, search_code = find_host(options.port, options.lang)
        if host is None:
            return search_code
        options = options.with_host(host)
    term = Terminal(options, log)
    login = Login(term, options, factory)
    code: Optional[int] = ExitCode.ERROR
    try:
        code = login.run()
    finally:
        if code is not None:
            term.close()
    if code is not None:
        if term.error:
            sys.stderr.write("chat.pyz: %s\n" % term.error)
        return code
    assert login.conn is not None       # login.run() returns None only once joined
    return split(term, login.conn, options, login.pending)


def split(term: Terminal, conn: ClientConnection, options: ClientOptions,
          pending: Sequence[ClientEvent]) -> int:
    """Fork into receiver (child) and sender (parent); the parent's return is the exit code."""
    cursor = SharedCursor()

    def receive(channel: Channel) -> int:
        return Receiver(term, conn, options, channel, cursor).run(pending)

    child = fork_child(receive, crash_log=os.environ.get(CRASH_LOG_VARIABLE))
    sender = Sender(term, options, child, cursor)
    try:
        return sender.run()
    finally:
        sender.stop_child()
        term.close()
        if sender.child_died:
            sys.stderr.write("chat.pyz: %s\n" % render.tr(options.lang, "receiver_died"))
