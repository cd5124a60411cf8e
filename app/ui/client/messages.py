"""What the curses client's two processes tell each other: the whole vocabulary.

The sender (the parent: keys, status line, input line) and the receiver (the
child: the connection, the message pane) exchange these values over one
app.net.channel.Channel made before fork; app.core.messages encodes them.
The first seven are also what the slash-command parser (commands.py) returns:
a command the sender passes on is sent as it was parsed.

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
Both ways
  RepaintWindows()          repaint your windows: ^L, or a resize on our side may
                            have scrolled the rows you own
Receiver -> sender
  ReceiverReady()           the receiver opened its own lock descriptor: the lock
                            file may be unlinked
  ReceiverLeaving()         the receiver is leaving the room (a signal, LeaveRoom,
                            or the sender's end closed): its exit is not a crash
  ConnectionState(state, online, detail, name)
                            for the status line, on every change of the connection
  TabNames(names)           names for Tab completion, best first (recent speakers,
                            then who is here), whenever the list changes

The names are registered globally (app.core.messages): they are spelled to
stay clear of the server/console vocabulary that shares the registry.
"""
from typing import Tuple

from app.core.messages import message


@message
class SayLine:
    text: str


@message
class EmoteLine:
    text: str


@message
class PrivateLine:
    name: str
    text: str


@message
class WhoQuery:
    pass


@message
class ShowHelp:
    pass


@message
class ShowNote:
    text: str


@message
class LeaveRoom:
    pass


@message
class ScrollPane:
    pages: int                   # -1 one page up (older), +1 one page down


@message
class RepaintWindows:
    pass


@message
class ReceiverReady:
    pass


@message
class ReceiverLeaving:
    pass


@message
class ConnectionState:
    state: str                   # connecting, joined, reconnecting, refused, closed
    online: int                  # people in the room, as the server last said
    detail: str                  # why (a refusal, a reconnect's cause), or ""
    name: str                    # our name in the room


@message
class TabNames:
    names: Tuple[str, ...]
