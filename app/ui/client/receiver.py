"""The receiver: the forked child of the curses client.

It owns the ClientConnection (one process must own the reliable session: acks,
retransmits, reconnects) and the message pane, and runs one selectors loop over
the UDP socket, the channel from the sender and its signal pipe. It tells the
sender the connection's state and the names for Tab completion (messages.py).
"""
import curses
import os
import selectors
import signal
import time
from typing import Any, Dict, List, Sequence, Set, Tuple, Union

from app.core import protocol
from app.core.client_core import ClientEvent, LinePending, LineSettled, Status
from app.core.options import ClientOptions
from app.core.text import split_message
from app.net.channel import Channel
from app.net import files
from app.net.client_net import ClientConnection, ClientNote
from app.net.processes import SharedCursor, await_messages, watch
from app.ui import render, screen
from app.ui.os_words import problem_text
from app.ui.client.messages import (Activity, ClearPane, ConnectionStatus, EmoteLine,
                                    HandIn, LeaveRoom, PrivateLine, ReceiverLeaving, ReceiverReady,
                                    RepaintWindows, SayLine, ScrollEnd, ScrollPane, SearchPane,
                                    ShowHelp, ShowNote, TabNames, WhoQuery)
from app.ui.client.side import Side, Windows, receiver_windows, sender_windows
from app.ui.client.terminal import Terminal

GOODBYE_WAIT = 0.4         # the receiver waits this long for the server's BYE_ACK
SIGNAL_WAIT = 0.3          # after a signal, how long it waits to learn if the sender lives
RECENT_SPEAKERS = 50       # speakers remembered for Tab completion
ACTIVITY_INTERVAL = 0.25   # the activity total goes to the sender at most this often: a
                           # flood of lines must not become a flood of status repaints
PROGRESS_INTERVAL = 0.1    # a progress bar is redrawn at most this often (and on a new percent)
LASTLOG_SHOWN = 200        # /lastlog shows at most this many lines (the newest), so a
                           # search never pushes the scrollback it searched out of the pane

ChatLine = Union[SayLine, EmoteLine, PrivateLine]


class Receiver(Side):
    """The child: the connection, the message pane, nothing else on the screen."""

    def __init__(self, term: Terminal, conn: ClientConnection, options: ClientOptions,
                 channel: Channel, cursor: SharedCursor) -> None:
        super().__init__(term, options, channel, cursor)
        self.conn = conn
        self.in_history = False
        self.silent_who = 0            # our own /who queries, for Tab completion only
        self.present: Set[str] = set()
        self.recent: List[str] = []    # speakers, most recent first
        self.names_sent: List[str] = []
        self.bell = False
        self.dirty = True
        self.status = Status(conn.state, conn.online, "")
        self.activity = 0              # messages from others so far (Activity)
        self.activity_sent = 0
        self.activity_newest_at = 0.0  # when the newest counted message was shown
        self.activity_sent_at = float("-inf")
        # msg_id -> (its pending line's number in the view, the line)
        self.pending_rows: Dict[int, Tuple[int, LinePending]] = {}
        self.echo_rows: Dict[int, int] = {}       # msg_id -> the line its echo replaces
        # (outgoing, transfer) -> (its bar's line in the pane, name, size, percent shown)
        self.bars: Dict[Tuple[bool, int], Tuple[int, str, int, int]] = {}
        self.bars_at = float("-inf")

    def own_windows(self) -> Windows:
        return receiver_windows(self.term.wins)

    def other_windows(self) -> Windows:
        return sender_windows(self.term.wins)

    def run(self, pending: Sequence[ClientEvent]) -> int:
        """The loop, until the sender says LeaveRoom, a signal, or the sender's end
        closes; the child's exit code."""
        term = self.term
        self.after_fork()
        self.channel.send(ReceiverReady())
        self.conn.who()
        self.silent_who += 1
        self._on_events(pending)
        self._send_state()
        sel = selectors.DefaultSelector()
        sel.register(self.conn.fileno(), selectors.EVENT_READ, "net")
        sel.register(term.signals.fileno(), selectors.EVENT_READ, "signals")
        while True:
            timeout = self.conn.tick(time.monotonic())
            self._on_events(self.conn.take_events())
            timeout = self._send_activity(time.monotonic(), timeout)
            timeout = self._update_bars(time.monotonic(), timeout)
            if self.dirty:
                self._paint()
            watch(sel, self.channel, "sender")
            for key, events in sel.select(timeout):
                if key.data == "net":
                    self.conn.on_readable(time.monotonic())
                elif key.data == "signals":
                    for signum in term.signals.take():
                        if signum == signal.SIGCONT:
                            self.redraw()      # back from a stop: the shell drew over us
                        elif signum != signal.SIGWINCH:
                            return self._leave_on_signal()
                        else:
                            self.resize()
                        self.dirty = True
                elif key.data == "sender":
                    received = self.channel.on_ready(events)
                    if received is None:            # the sender died: the terminal is ours
                        self._leave()
                        screen.restore_terminal()
                        return 0
                    for message in received:
                        if isinstance(message, LeaveRoom):
                            return self._leave()
                        self._on_message(message)

    def _leave(self) -> int:
        """Leave the room at once (the others see it now, not after a time-out)."""
        self.channel.send(ReceiverLeaving())     # an orderly exit, not a crash
        try:
            self.conn.goodbye(time.monotonic, GOODBYE_WAIT)
        except OSError:
            pass
        return 0

    def _leave_on_signal(self) -> int:
        """SIGTERM, SIGHUP, SIGINT: leave, and restore the terminal if the sender is dying
        too (a SIGKILLed session leader makes the kernel send us SIGHUP, sometimes before
        its end of the channel is closed). A live sender answers our ReceiverLeaving with
        LeaveRoom (or has sent it already) and restores the terminal itself."""
        self._leave()
        if await_messages(self.channel, SIGNAL_WAIT) is None:
            screen.restore_terminal()
        return 0

    # ------------------------------------------------------------ from the sender

    def _on_message(self, message: Any) -> None:
        """Apply one message from the sender (LeaveRoom is the loop's: it ends it)."""
        if isinstance(message, (SayLine, EmoteLine, PrivateLine)):
            self._send_chat(message)
        elif isinstance(message, WhoQuery):
            self.conn.who()
        elif isinstance(message, ShowHelp):
            for line in render.TEXTS[self.lang]["help"]:
                self.term.say_local(line)
        elif isinstance(message, ShowNote):
            self.term.say_local(message.text)
        elif isinstance(message, ScrollPane):
            if message.pages < 0:
                self.term.view.page_up()
            else:
                self.term.view.page_down()
        elif isinstance(message, RepaintWindows):
            self.redraw()
        elif isinstance(message, HandIn):
            problem = self.conn.hand_in(os.path.expanduser(message.path), time.monotonic())
            if problem:
                self.term.say_local(self.tr("hand_in_problem",
                                            reason=problem_text(problem, self.lang)))
            self.bars_at = float("-inf")    # its bar at once
        else:
            self._on_pane_message(message)
        self.dirty = True

    def _on_pane_message(self, message: Any) -> None:
        """Ctrl-Home/End, /clear, /lastlog."""
        view = self.term.view
        if isinstance(message, ScrollEnd):
            if message.newest:
                view.follow()
            else:
                view.oldest()
        elif isinstance(message, ClearPane):
            view.clear()
        elif isinstance(message, SearchPane):
            self._search(message.text)

    def _search(self, text: str) -> None:
        """/lastlog TEXT: the matching lines again at the bottom, as local lines under a
        count (kept out of later searches), or "no match"."""
        found = self.term.view.find(text)
        shown = found[-LASTLOG_SHOWN:]
        if not found:
            heading = self.tr("lastlog_none", text=text)
        elif len(shown) < len(found):
            heading = self.tr("lastlog_last", text=text, count=len(found), shown=len(shown))
        else:
            heading = self.tr("lastlog_found", text=text, count=len(found))
        self.term.show(render.local_line(heading), searchable=False)
        for line in shown:
            self.term.show(render.local_line("".join(part for part, _ in line)),
                           searchable=False)
        self.term.view.follow()         # the answer is at the bottom: show it

    def _send_chat(self, message: ChatLine) -> None:
        text = message.text
        parts = len(split_message(text, protocol.MAX_TEXT_BYTES))
        if parts > 1:   # the connection splits it; say so rather than surprise anyone
            self.term.say_local(self.tr("split", count=parts))
        if isinstance(message, SayLine):
            self.conn.say(text)
        elif isinstance(message, EmoteLine):
            self.conn.emote(text)
        else:
            self.conn.private(message.name, text)
        self.term.view.follow()        # sending means reading the newest again

    # ------------------------------------------------------------ from the network

    def _on_events(self, events: Sequence[Union[ClientEvent, files.FileNews, ClientNote]]
                   ) -> None:
        for event in events:
            if isinstance(event, ClientNote):           # e.g. the server's key not remembered
                self.term.say_local(problem_text(event.problem, self.lang))
                self.dirty = True
                continue
            if isinstance(event, files.NEWS_TYPES):     # a file stored, handed in, or why not
                text, good = render.file_news_text(event, self.lang)
                self._end_bar(isinstance(event, (files.HandedIn, files.HandInRefused)),
                              event.transfer, good)
                self.term.show([(text, "notice" if good else "admin")])
                self.dirty = True
                continue
            if isinstance(event, (LinePending, LineSettled)):
                self._on_own_line(event)
                continue
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
                self.term.show(render.history_divider(self.lang))
            self.in_history = history
            line = render.render(event, self.lang, self.conn.name, self.conn.instance)
            echoed = self.echo_rows.pop(event.msg_id, None) \
                if event.msg_id and event.origin == self.conn.instance else None
            self.term.show(line, replacing=echoed)
            if render.wants_bell(event, self.options.bell, self.conn.name, self.conn.instance):
                self.bell = True
            # Activity: what --bell all rings for, i.e. chat, emotes, private and admin
            # messages from others, not history; joins and leaves are not counted.
            if render.wants_bell(event, "all", self.conn.name, self.conn.instance):
                self.activity += 1
                self.activity_newest_at = time.monotonic()

    def _on_own_line(self, event: Union[LinePending, LineSettled]) -> None:
        """Our line while the server is away: shown at once, dim and marked; when
        settled, its echo (which follows) takes its place, or it is marked as not
        delivered (the notice saying why follows)."""
        self.dirty = True
        view = self.term.view
        if isinstance(event, LinePending):
            number = view.add(self._pending_line(event, "pending_mark"))
            self.pending_rows[event.msg_id] = (number, event)
            view.follow()
            return
        found = self.pending_rows.get(event.msg_id)
        if found is None:
            return
        number, line = found
        if event.delivered:
            del self.pending_rows[event.msg_id]
            self.echo_rows[event.msg_id] = number
        else:   # kept: an echo that was on its way after all still takes its place
            view.replace(number, self._pending_line(line, "undelivered_mark"))

    def _pending_line(self, line: LinePending, mark: str) -> render.Line:
        return render.pending_line(line.kind, line.text, line.target, self.lang,
                                   self.conn.name, time.time(), mark)

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
            del self.recent[RECENT_SPEAKERS:]
        self._send_names()

    def _send_names(self) -> None:
        me = self.conn.name
        names = [n for n in self.recent if n != me]
        names += sorted(n for n in self.present if n != me and n not in names)
        if names != self.names_sent:
            self.names_sent = names
            self.channel.send(TabNames(tuple(names)))

    def _on_status(self, status: Status) -> None:
        before = self.status.state
        self.status = status
        farewell = self._farewell_words() if status.state in ("reconnecting", "closed") else ""
        if status.state == "reconnecting" and before != "reconnecting":
            detail = render.detail_text(status.detail, self.lang) if status.detail else ""
            self.term.say_local(farewell or self.tr("state_reconnecting") +
                                (" (%s)" % detail if detail else ""))
        elif status.state == "joined" and before == "reconnecting":
            self.term.say_local(self.tr("state_joined"))
        elif status.state == "closed" and status.detail not in ("leaving", "left") \
                and before != "closed":
            self.term.say_local(farewell or self.tr("closed", reason=render.detail_text(
                status.detail, self.lang)))
        self.dirty = True
        self._send_state()

    def _send_activity(self, now: float, timeout: float) -> float:
        """Send the activity total if it changed, at most every ACTIVITY_INTERVAL; the
        loop's timeout, shortened so that a total held back is sent when it is due."""
        if self.activity == self.activity_sent:
            return timeout
        due = self.activity_sent_at + ACTIVITY_INTERVAL
        if now < due:
            return min(timeout, due - now)
        self.activity_sent, self.activity_sent_at = self.activity, now
        self.channel.send(Activity(self.activity, self.activity_newest_at))
        return timeout

    # ------------------------------------------------------------ progress bars

    def _update_bars(self, now: float, timeout: float) -> float:
        """A bar in the pane for each file coming or being handed in: added when
        it starts, redrawn in place (a new percent, at most every
        PROGRESS_INTERVAL); the loop's timeout while any runs."""
        rows = self.conn.files.progress()
        if not rows:
            return timeout
        due = self.bars_at + PROGRESS_INTERVAL
        if now < due:
            return min(timeout, due - now)
        self.bars_at = now
        for transfer, name, done, size, outgoing in rows:
            key = (outgoing, transfer)
            percent = 100 * done // size if size else 100
            bar = self.bars.get(key)
            if bar is not None and bar[3] == percent:
                continue
            line = self._bar_line(name, done, size, outgoing)
            if bar is None or not self.term.view.replace(bar[0], line):
                self.bars[key] = (self.term.view.add(line, searchable=False), name, size,
                                  percent)
                self.term.view.follow()
            else:
                self.bars[key] = (bar[0], name, size, percent)
            self.dirty = True
        return min(timeout, PROGRESS_INTERVAL)

    def _end_bar(self, outgoing: bool, transfer: int, good: bool) -> None:
        """A transfer ended: a good end fills its bar; the news line follows."""
        bar = self.bars.pop((outgoing, transfer), None)
        if bar is not None and good:
            self.term.view.replace(bar[0], self._bar_line(bar[1], bar[2], bar[2], outgoing))

    def _bar_line(self, name: str, done: int, size: int, outgoing: bool) -> render.Line:
        return render.local_line(render.progress_text(name, done, size, outgoing, self.lang))

    def _farewell_words(self) -> str:
        """The server's goodbye (kicked, banned, closing) as the student reads it."""
        return render.farewell_text(self.conn.farewell, self.lang, time.time(),
                                    coded=self.conn.farewell_coded)

    def _send_state(self) -> None:
        status = self.status
        self.channel.send(ConnectionStatus(status.state, status.online, status.detail,
                                          self.conn.name))

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
            term.painter.paint(self.own_windows(), park=self.cursor.get, extra=bell)
        except (OSError, curses.error):
            pass                         # the terminal is gone (SIGHUP): leaving soon
