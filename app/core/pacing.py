"""The server's fan-out pacing: how a room's fan-out shares the server with
what arrives meanwhile. Pure: the shell passes `now` in and does the IO
(app/net/server.py _send_output; tests/simnet.py drives the same policy).

A fan-out (room_stream.py) goes out FAN_OUT_SLICE members at a time. Between
two slices the shell asks `after_slice(now)` what to do:

  LOOK       look at the socket: a line that came meanwhile joins the fan-out
             (the members not reached yet get both lines in one datagram);
             bare room acks that came are handed to `hold` and wait;
  TAKE_HELD  HELD_ACKS_MAX bare acks wait: take them now (`take_held`);
  GO_ON      the fan-out has taken in lines for FAN_OUT_JOINS_FOR: it ends
             without looking, so a room that talks faster than it can be
             sent to still gets its timers run between fan-outs.

At the fan-out's end the shell takes the held acks (`take_held`) and sends
what they released. Why hold them: an ack only frees window space; handled
mid-fan-out it makes the members not yet reached wait for its sends.
"""
import enum
from typing import Any, List, Optional, Tuple

from app.core import protocol

# Members a fan-out visits between two looks at the socket (~0.1 ms of sends):
# a look costs ~1 us, so 64 sends are a 1 % cost.
FAN_OUT_SLICE = 64
# Bare room acks that come during a fan-out wait for its end, but never more
# than this many.
HELD_ACKS_MAX = 256
# Seconds a fan-out takes in lines at most.
FAN_OUT_JOINS_FOR = 0.02


class PaceStep(enum.Enum):
    """What the shell does before the next slice of a fan-out."""
    GO_ON = "go on"
    LOOK = "look"
    TAKE_HELD = "take held"


GO_ON, LOOK, TAKE_HELD = PaceStep.GO_ON, PaceStep.LOOK, PaceStep.TAKE_HELD

Datagram = Tuple[bytes, Any]     # (data, the sender's address)


class FanOutPacer:
    """One turn of sending: made when the shell starts sending (`now`), asked
    between slices, done when the hub no longer fans out. Reads the module's
    constants when made (a test may change them); `slice_size` replaces
    FAN_OUT_SLICE (the simulated network's small rooms use small slices)."""

    __slots__ = ("slice", "held_max", "look_until", "held")

    def __init__(self, now: float, slice_size: Optional[int] = None) -> None:
        self.slice = FAN_OUT_SLICE if slice_size is None else slice_size
        self.held_max = HELD_ACKS_MAX
        self.look_until = now + FAN_OUT_JOINS_FOR
        self.held: List[Datagram] = []

    def after_slice(self, now: float) -> PaceStep:
        """What to do before the next slice: TAKE_HELD, LOOK or GO_ON."""
        if len(self.held) >= self.held_max:
            return TAKE_HELD
        if now < self.look_until:
            return LOOK
        return GO_ON

    def hold(self, data: bytes, addr: Any) -> bool:
        """A datagram that came during the fan-out: True if it is a bare room
        ack, which then waits here for the fan-out's end."""
        if not protocol.is_bare_room_ack(data):
            return False
        self.held.append((data, addr))
        return True

    def take_held(self) -> List[Datagram]:
        """The held acks, oldest first; none held after."""
        held, self.held = self.held, []
        return held
