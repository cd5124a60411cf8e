"""The one carrier of messages between two processes of one program.

A Channel is one end of an AF_UNIX SOCK_SEQPACKET socket pair made before
fork: message boundaries for free (one message, one recv), nothing on the
network can reach it (so no datagram can pose as the admin or as the other
half of a client), and EOF tells either side the other one died. Messages are
app.core.messages values; this module only moves their bytes.

Sending never blocks: a message the peer has no room for yet waits in a
bounded queue (the oldest go first when a peer stops reading for good), and
goes out at the next send or flush. `wants_write` tells a selectors loop to
wait for the socket to be writable.
"""
import selectors
import socket
from collections import deque
from typing import Any, Deque, List, Optional, Tuple

from app.core import messages

QUEUE_CAP = 10000          # messages held for a slow peer before the oldest go


def pair() -> Tuple["Channel", "Channel"]:
    """Two connected ends: keep one in each process after fork (close the other)."""
    one, two = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    return Channel(one), Channel(two)


class Channel:
    """One end of the pair, non-blocking, with a send queue for a slow peer."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sock.setblocking(False)
        self.queue: Deque[bytes] = deque(maxlen=QUEUE_CAP)
        self.closed = False
        self.undecodable = 0       # messages dropped as not of our vocabulary (a bug)

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, message: Any) -> None:
        """Queue one message and send what the peer has room for. A message
        over MAX_MESSAGE bytes is a programming error: ValueError."""
        if self.closed:
            return
        data = messages.encode(message)
        if len(data) > messages.MAX_MESSAGE:
            raise ValueError("a %s message of %d bytes is over the channel's limit"
                             % (type(message).__name__, len(data)))
        self.queue.append(data)
        self.flush()

    @property
    def wants_write(self) -> bool:
        return bool(self.queue) and not self.closed

    def flush(self) -> None:
        while self.queue and not self.closed:
            try:
                self.sock.send(self.queue[0])
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self.closed = True
                return
            self.queue.popleft()

    def receive(self) -> Optional[List[Any]]:
        """The messages waiting now (maybe none); None once the other side is gone
        and everything it sent has been read."""
        received: List[Any] = []
        while True:
            try:
                data = self.sock.recv(messages.MAX_MESSAGE)
            except (BlockingIOError, InterruptedError):
                return received
            except OSError:
                data = b""
            if not data:
                self.closed = True
                return received or None
            try:
                received.append(messages.decode(data))
            except messages.MessageError:
                self.undecodable += 1

    def on_ready(self, events: int) -> Optional[List[Any]]:
        """A selector says this channel is ready (`events`, a selectors mask):
        send what waits if it is writable; the messages that came if it is
        readable ([] if it is not); None at EOF."""
        if events & selectors.EVENT_WRITE:
            self.flush()
        if not events & selectors.EVENT_READ:
            return []
        return self.receive()

    def close(self) -> None:
        self.closed = True
        self.sock.close()
