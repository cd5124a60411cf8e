"""Process plumbing for a front end that forks into two cooperating processes.

`fork_child` forks with an app.net.channel.Channel between parent and child;
the parent gets a `Child` (pid and its end of the channel) to stop and reap it.
`SharedCursor` is one screen position in shared memory, written by one process
and read by the other. `watch` and `await_messages` keep a channel's send queue
flowing in a selectors loop and while waiting for the other process: a Channel
never blocks on send, so whoever owns a loop must flush what it queued.
"""
import mmap
import os
import selectors
import signal
import struct
import sys
import time
import traceback
from typing import Any, Callable, List, Optional, Tuple

from app.net.channel import Channel, pair


class SharedCursor:
    """A screen position (y, x) in anonymous memory shared across fork; (-1, -1)
    until first set. Not a message: the reader wants the position at the moment
    it paints, never a queue of old ones, and the writer must not wait for it."""

    _FORMAT = "ii"

    def __init__(self) -> None:
        self._mem = mmap.mmap(-1, struct.calcsize(self._FORMAT))
        self.set(-1, -1)

    def set(self, y: int, x: int) -> None:
        struct.pack_into(self._FORMAT, self._mem, 0, y, x)

    def get(self) -> Tuple[int, int]:
        y, x = struct.unpack_from(self._FORMAT, self._mem, 0)
        return y, x


def watch(selector: selectors.BaseSelector, channel: Channel, data: Any = None) -> None:
    """Register `channel` in `selector` (or update it): readable always, writable
    while messages wait in its send queue. Call it before every select; on
    EVENT_WRITE call channel.flush()."""
    events = selectors.EVENT_READ | (selectors.EVENT_WRITE if channel.wants_write else 0)
    try:
        key = selector.get_key(channel)
    except KeyError:
        selector.register(channel, events, data)
        return
    if key.events != events:
        selector.modify(channel, events, key.data)


def await_messages(channel: Channel, timeout: float) -> Optional[List[Any]]:
    """Flush our queue to the other process and wait up to `timeout` seconds for
    word from it: the messages it sent, [] if time ran out first, None once it
    is gone (its end closed and everything it sent was read)."""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            watch(selector, channel)
            for _, events in selector.select(remaining):
                if events & selectors.EVENT_WRITE:
                    channel.flush()
                if events & selectors.EVENT_READ:
                    received = channel.receive()
                    if received is None or received:
                        return received


class Child:
    """A forked child as its parent sees it."""

    def __init__(self, pid: int, channel: Channel) -> None:
        self.pid = pid
        self.channel = channel          # the parent's end

    def wait_for_exit(self, timeout: float) -> None:
        """Send what is queued and wait up to `timeout` for the child's end of the
        channel to close (it exited); what it sends meanwhile is dropped."""
        deadline = time.monotonic() + timeout
        while True:
            received = await_messages(self.channel, deadline - time.monotonic())
            if not received:            # None: it is gone; []: time is up
                return

    def reap(self) -> None:
        """SIGKILL the child if it still runs, then collect it: no zombie is left."""
        try:
            if os.waitpid(self.pid, os.WNOHANG) == (0, 0):
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass                        # already collected


def fork_child(body: Callable[[Channel], int], crash_log: Optional[str] = None) -> Child:
    """Fork with a channel between the two processes; return the Child in the parent.

    The child runs `body(its end of the channel)` and ends with os._exit(what it
    returned): it never unwinds into the caller's stack, so the parent's finally
    blocks, atexit handlers and buffered output do not run twice. If `body`
    raises, the child ends with 1 and appends the traceback to the file
    `crash_log` when one is named (it has no screen to print on)."""
    ours, theirs = pair()
    sys.stdout.flush()                  # or the child's exit could write them again
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            ours.close()                # else the parent's exit would not be EOF here
            code = body(theirs)
        except BaseException:
            log_crash(crash_log)
        finally:
            os._exit(code)
    theirs.close()
    return Child(pid, ours)


def log_crash(path: Optional[str]) -> None:
    """Append the exception being handled to the file `path` (nothing if None or "")."""
    if path:
        with open(path, "a") as log:
            traceback.print_exc(file=log)
