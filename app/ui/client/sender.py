"""The sender: the parent process of the curses client after the fork.

It reads keys, edits the input line, draws the status line and the input line,
and publishes the input cursor (SharedCursor) for the receiver to park the glass
cursor on. Submitted lines are parsed into commands (commands.py) and passed to
the receiver, as are scroll keys and Ctrl-L; the receiver sends back the
connection's state, the names for Tab completion and the activity total.

The status line: on the left the server, who is online and the connection's
state; on the right the activity count, the clock (HH:MM) and our name. The
activity count is irssi's Act: for our one room: the messages from others (chat,
emotes, private and admin messages; not joins, leaves or history) that arrived
since the last key was pressed, so a glance back at the terminal tells what was
missed; any key clears it. On a narrow terminal the clock goes first, then the
count; the name stays.
"""
import curses
import math
import os
import selectors
import signal
import time
from typing import Any, Optional, Sequence, Tuple

from app.core import protocol
from app.core.exit_codes import ExitCode
from app.core.options import ClientOptions
from app.core.text import sanitize_text
from app.net.processes import Child, SharedCursor, watch
from app.ui.client.commands import parse_command
from app.ui.client.messages import (Activity, ConnectionStatus, LeaveRoom, ReceiverLeaving,
                                    ReceiverReady, RepaintWindows, ScrollEnd, ScrollPane,
                                    ShowNote, TabNames, WhoQuery)
from app.ui.client.side import Side, Windows, receiver_windows, sender_windows
from app.ui.client.terminal import Terminal
from app.ui.line_editor import LineEditor, paste_text
from app.ui.width import text_width

QUIT_WAIT = 1.0            # the sender waits this long for the receiver, then SIGKILL
# A paste past this is refused, visibly; below it, the receiver splits what it sends
# into messages (at line breaks first) and says so.
MAX_INPUT_BYTES = 16 * protocol.MAX_TEXT_BYTES
STATES = ("connecting", "joined", "reconnecting", "refused", "closed")   # with a text
REMOVED_WAIT = 8.0         # kicked or banned: the client ends by itself after this long


class Sender(Side):
    """The parent: keys in, status line and input line out, commands to the receiver."""

    def __init__(self, term: Terminal, options: ClientOptions, child: Child,
                 cursor: SharedCursor) -> None:
        super().__init__(term, options, child.channel, cursor)
        self.child = child
        self.editor = LineEditor(max_bytes=MAX_INPUT_BYTES)
        self.names: Sequence[str] = ()
        self.names_stale = False       # (TabNames.stale)
        self.state = ConnectionStatus("joined", 0, "", "")
        self.child_died = False        # its end closed without ReceiverLeaving: a crash
        self.child_left = False        # it said ReceiverLeaving
        self.child_gone = False        # stopped and reaped
        self.activity = 0              # the receiver's last Activity total
        self.activity_seen = 0         # that total when the last key was pressed
        self.last_key_at = float("-inf")
        self.clock_shown = ""
        self.removed_at: Optional[float] = None   # when the server removed us (kick, ban)

    def own_windows(self) -> Windows:
        return sender_windows(self.term.wins)

    def other_windows(self) -> Windows:
        return receiver_windows(self.term.wins)

    def run(self) -> int:
        """The loop, until a quit key, /quit, a signal, or the receiver's end; the exit
        code (1 when the receiver died)."""
        term = self.term
        self.after_fork()
        sel = selectors.DefaultSelector()
        sel.register(0, selectors.EVENT_READ, "keys")
        sel.register(term.signals.fileno(), selectors.EVENT_READ, "signals")
        dirty = True
        while True:
            if dirty or self._clock() != self.clock_shown:
                self._paint()
            dirty = False
            watch(sel, self.channel, "receiver")
            ready = sel.select(term.key_timeout(self._wait_step()))
            keys_ready = False
            for key, events in ready:
                if key.data == "receiver":
                    received = self.channel.on_ready(events)
                    if received is None:           # the receiver ended
                        self.child_died = not self.child_left
                        return 1 if self.child_died else ExitCode.OK
                    for message in received:
                        self._on_message(message)
                    dirty = dirty or bool(received)
                elif key.data == "signals":
                    for signum in term.signals.take():
                        if signum == signal.SIGCONT:
                            self.resume()
                        elif signum != signal.SIGWINCH:
                            return ExitCode.OK
                        else:
                            self.resize()
                    dirty = True
                elif key.data == "keys":
                    keys_ready = True
            if keys_ready or term.keys.pending:
                try:
                    keys = term.read_keys(keys_ready)
                except EOFError:
                    return ExitCode.OK
                if keys and self.removed_at is not None:
                    return ExitCode.REFUSED    # removed: any key ends it (typing is over)
                for kind, value in keys:
                    if not self._on_key(kind, value):
                        return ExitCode.OK
                dirty = True
            if self.removed_at is not None:
                left = self._removed_timeout()
                if left is not None and left <= 0:
                    return ExitCode.REFUSED
                dirty = True                   # the countdown

    def _on_message(self, message: Any) -> None:
        if isinstance(message, ReceiverLeaving):   # it got a signal: show it we are alive
            self.child_left = True
            self.channel.send(LeaveRoom())
        elif isinstance(message, ReceiverReady):   # it has its own lock descriptor now
            try:
                os.unlink(self.term.lock_path)
            except OSError:
                pass
        elif isinstance(message, ConnectionStatus):
            self.state = message
            if message.state == "closed" and message.detail not in ("leaving", "left") \
                    and self.removed_at is None:
                self.removed_at = time.monotonic()
        elif isinstance(message, TabNames):
            self.names = message.names
            self.names_stale = message.stale
        elif isinstance(message, RepaintWindows):
            self.redraw()
        elif isinstance(message, Activity):
            self.activity = message.total
            if message.newest_at <= self.last_key_at:
                self.activity_seen = message.total    # shown before the last key

    def resume(self) -> None:
        """SIGCONT (`fg` after a stop): our modes back, then every window repainted. The
        receiver got the SIGCONT too and repaints; it is asked again in case it got it
        before our modes were back, or did not get it (a SIGCONT sent to us alone)."""
        self.term.restore_modes()
        self.redraw()
        self.channel.send(RepaintWindows())

    def _on_key(self, kind: str, value: str) -> bool:
        """Apply one key; False to quit."""
        editor = self.editor
        self.activity_seen = self.activity     # a key: the user is looking
        self.last_key_at = time.monotonic()
        if kind in ("text", "paste"):
            # A bracketed paste keeps its lines: Enter inside it is a line break, so
            # the whole paste is one message when Enter is pressed after it.
            text = paste_text(value) if kind == "paste" else sanitize_text(value)
            if not editor.insert(text):
                size = len((editor.text + text).encode("utf-8"))
                self.channel.send(ShowNote(self.tr("too_long", size=size,
                                                   limit=MAX_INPUT_BYTES)))
        elif value == "enter":
            return self._submit(editor.submit())
        elif value == "^C" or (value == "^D" and not editor.chars):
            return False
        elif value == "^D":
            editor.delete()
        elif value in ("pgup", "pgdn"):
            self.channel.send(ScrollPane(-1 if value == "pgup" else 1))
        elif value in ("ctrl-home", "ctrl-end"):
            self.channel.send(ScrollEnd(newest=value == "ctrl-end"))
        elif value == "^L":
            self.channel.send(RepaintWindows())
            self.redraw()
        else:
            if value == "tab" and self.names_stale:
                # Joins only counted (EV_MEMBERS): the list, for the next Tab.
                self.names_stale = False
                self.channel.send(WhoQuery(silent=True))
            editor.handle(value, self.names)
        return True

    def _submit(self, line: str) -> bool:
        """A submitted line: False for /quit; any other command goes to the receiver,
        which applies it."""
        command = parse_command(line, self.lang)
        if command is None:
            return True
        if isinstance(command, LeaveRoom):
            return False                       # stop_child tells the receiver
        self.channel.send(command)
        return True

    def _removed_timeout(self) -> Optional[float]:
        """Seconds until a removed client ends by itself (None: not removed)."""
        if self.removed_at is None:
            return None
        return max(0.0, self.removed_at + REMOVED_WAIT - time.monotonic())

    def _wait_step(self) -> float:
        """How long the loop may wait: until the status clock's next minute, or
        sooner, the removal countdown's next second."""
        wait = _until_next_minute(time.time())
        left = self._removed_timeout()
        return wait if left is None else min(wait, left, left - math.floor(left) or 1.0)

    def _status_text(self) -> Tuple[str, str]:
        state = self.state
        shown = self.tr("state_" + state.state) if state.state in STATES else state.state
        # Closed: nobody is online for us any more.
        online = "" if state.state == "closed" else self.tr("online", count=state.online) + " | "
        left = " %s | %s%s" % (self.term.server, online, shown)
        return left, self._status_right(state.name)

    def _status_right(self, name: str) -> str:
        """Activity, clock and name, as much as fits the third of the line draw_status
        gives the right side: the clock is dropped first, then the activity count."""
        room = self.term.layout.cols // 3
        count = self.activity - self.activity_seen
        activity = [self.tr("activity", count=count)] if count > 0 else []
        clock = [self._clock()]
        for parts in (activity + clock, activity, []):
            right = " ".join(parts + [name]) + " "
            if text_width(right) <= room:
                return right
        return name + " "

    @staticmethod
    def _clock() -> str:
        return time.strftime("%H:%M")

    def _paint(self) -> None:
        term = self.term
        if term.size_changed():
            self.resize()
        if not term.layout.usable:
            return
        self.clock_shown = self._clock()
        term.draw_status(*self._status_text())
        left = self._removed_timeout()
        if left is not None:                   # no more typing: how it ends instead
            term.draw_input(self.tr("press_key", seconds=math.ceil(left)), None)
        else:
            term.draw_input("> ", self.editor)
        try:
            term.painter.paint(self.own_windows(), after=self.cursor.set)
        except (OSError, curses.error):
            pass

    def stop_child(self) -> None:
        """Tell the receiver to leave; SIGKILL it after QUIT_WAIT; reap it either way."""
        if self.child_gone:
            return
        self.child_gone = True
        if not self.child_died:
            self.channel.send(LeaveRoom())
            self.child.wait_for_exit(QUIT_WAIT)   # its exit closes its end: EOF
        self.child.reap()


def _until_next_minute(now: float) -> float:
    """Seconds to the next change of the status line's clock (a little after it)."""
    return 60.0 - now % 60.0 + 0.05
