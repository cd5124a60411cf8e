"""What the curses client's two processes tell each other: the whole vocabulary.

The sender (the parent: keys, status line, input line) and the receiver (the
child: the connection, the message pane) exchange these values over one
app.net.channel.Channel made before fork; app.core.messages encodes them.
The first seven, ClearPane and SearchPane are also what the slash-command parser
(commands.py) returns: a command the sender passes on is sent as it was parsed.

Sender -> receiver
  SayLine(text)             a line for the room (plain text, or "//text")
  EmoteLine(text)           /me text
  PrivateLine(name, text)   /msg NAME text
  WhoQuery()                /who: ask the server; the receiver shows the answer
  ShowHelp()                /help: the receiver shows the help text in the pane
  ShowNote(text)            a line for our eyes only (a usage hint, a refused paste)
  LeaveRoom()               /quit, ^C, ^D, or the answer to ReceiverLeaving:
                            leave the room and end
  ScrollPane(pages)         PgUp (-1) or PgDn (+1) in the message pane
  ScrollEnd(newest)         Ctrl-End (True: the newest line) or Ctrl-Home (False:
                            the oldest) in the message pane
  ClearPane()               /clear: forget the pane's lines
  SearchPane(text)          /lastlog TEXT: show the pane's lines containing TEXT
  HandIn(path)              /hand-in PATH, /交作业 PATH: hand the file in (the
                            receiver owns the connection; it shows the progress)
Both ways
  RepaintWindows()          repaint your windows: ^L, or a resize on our side may
                            have scrolled the rows you own
Receiver -> sender
  ReceiverReady()           the receiver opened its own lock descriptor: the lock
                            file may be unlinked
  ReceiverLeaving()         the receiver is leaving the room (a signal, LeaveRoom,
                            or the sender's end closed): its exit is not a crash
  ConnectionStatus(state, online, detail, name)
                            for the status line, on every change of the connection
  TabNames(names)           names for Tab completion, best first (recent speakers,
                            then who is here), whenever the list changes
  Activity(total, newest_at)
                            messages from others received so far, and when the
                            newest of them was shown (time.monotonic(): both
                            processes share the clock). The status line's count is
                            total minus the total at the last key; a total whose
                            newest message came before the last key was all seen
                            (totals are held back up to 0.25 s, so one can arrive
                            after a key that followed its messages)
"""
import dataclasses
from typing import Tuple

from app.core.messages import message


@message
@dataclasses.dataclass(frozen=True)
class SayLine:
    text: str


@message
@dataclasses.dataclass(frozen=True)
class EmoteLine:
    text: str


@message
@dataclasses.dataclass(frozen=True)
class PrivateLine:
    name: str
    text: str


@message
@dataclasses.dataclass(frozen=True)
class WhoQuery:
    # True: for Tab completion only (the receiver takes the list in silently)
    silent: bool = False


@message
@dataclasses.dataclass(frozen=True)
class ShowHelp:
    pass


@message
@dataclasses.dataclass(frozen=True)
class ShowNote:
    text: str


@message
@dataclasses.dataclass(frozen=True)
class LeaveRoom:
    pass


@message
@dataclasses.dataclass(frozen=True)
class ScrollPane:
    pages: int                   # -1 one page up (older), +1 one page down


@message
@dataclasses.dataclass(frozen=True)
class ScrollEnd:
    newest: bool                 # True: Ctrl-End, the newest line; False: Ctrl-Home


@message
@dataclasses.dataclass(frozen=True)
class ClearPane:
    pass


@message
@dataclasses.dataclass(frozen=True)
class SearchPane:
    text: str


@message
@dataclasses.dataclass(frozen=True)
class HandIn:
    path: str


@message
@dataclasses.dataclass(frozen=True)
class RepaintWindows:
    pass


@message
@dataclasses.dataclass(frozen=True)
class ReceiverReady:
    pass


@message
@dataclasses.dataclass(frozen=True)
class ReceiverLeaving:
    pass


@message
@dataclasses.dataclass(frozen=True)
class ConnectionStatus:
    state: str                   # connecting, joined, reconnecting, refused, closed
    online: int                  # people in the room, as the server last said
    detail: str                  # why (a refusal, a reconnect's cause), or ""
    name: str                    # our name in the room


@message
@dataclasses.dataclass(frozen=True)
class TabNames:
    names: Tuple[str, ...]
    # Some who joined were only counted (EV_MEMBERS: too many at once to be
    # named): the sender asks for the member list at the next Tab.
    stale: bool = False


@message
@dataclasses.dataclass(frozen=True)
class Activity:
    total: int
    newest_at: float
