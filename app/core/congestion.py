"""Congestion control and pacing of one file transfer. Pure: `now` comes in.

The algorithm, named: a **NewReno-style AIMD window** (RFC 5681 / RFC 6582:
slow start, then +1 chunk per window of acks, halved once per round trip on
loss; back to the minimum on persistent congestion, as RFC 9002 section 7.6
has it for QUIC) **with a LEDBAT-style delay brake**
(RFC 6817): the queueing delay is estimated as the latest RTT sample minus
the lowest seen (`base`), and above DELAY_TARGET the window stops growing and
shrinks in proportion to the excess, as LEDBAT's controller does. Slow start
also ends when the delay passes half the target (the idea of HyStart's delay
test), before the queue is full.

Why both. Loss alone (Reno) fills every queue on the way before it backs off,
and a chat line that has to wait behind a full queue of file chunks is late;
the room asks for a quiet member's line to arrive within 50 ms while files
move. A delay target of 15 ms keeps the queue that our own chunks build short,
so chat (which the shells also send first: chat datagrams never wait behind a
chunk in our own loop) stays fast; loss still halves the window, so a lossy
link is not flooded. LEDBAT's usual target (100 ms) is for the Internet; a LAN's
base delay is well under a millisecond, so the target is scaled down.

Pacing (as RFC 9002 section 7.7 recommends for QUIC): chunks leave at
PACING_GAIN * cwnd / srtt chunks a second, with bursts of at most BURST, so a
window is not sent in one clump that overflows a switch's or a receiver's
socket buffer.
"""
from typing import Optional

MIN_CWND = 4.0           # chunks
INITIAL_CWND = 16.0      # a LAN: start higher than TCP's 10 segments
MAX_WINDOW_BYTES = 4 << 20   # in flight at most: far above a LAN's bandwidth-delay
                             # product, and within the socket buffers we ask for
DELAY_TARGET = 0.015     # seconds of queueing delay we accept (LEDBAT: 0.1 on the Internet)
LEDBAT_GAIN = 1.0
BETA = 0.5               # NewReno's multiplicative decrease
PACING_GAIN = 2.0        # RFC 9002: N = 1.25; more here, the window is the real limit
BURST = 16               # chunks that may leave back to back
RTO_INITIAL = 0.3
RTO_MIN = 0.05           # a transfer has its own timer: a LAN's RTT is < 1 ms
RTO_MAX = 2.0
EPSILON = 1e-6          # a token short by a rounding error is a whole token


class Controller:
    """How many chunks may be in flight, and when the next may leave."""

    __slots__ = ("cwnd", "ssthresh", "srtt", "rttvar", "rto", "base", "latest_rtt",
                 "recovery_start", "tokens", "tokens_at", "backoff", "max_cwnd")

    def __init__(self, now: float, chunk: int = 1136) -> None:
        self.max_cwnd = max(INITIAL_CWND, float(MAX_WINDOW_BYTES // chunk))
        self.cwnd = INITIAL_CWND
        self.ssthresh = self.max_cwnd
        self.srtt: Optional[float] = None
        self.rttvar = 0.0
        self.rto = RTO_INITIAL
        self.base = float("inf")      # lowest RTT seen: the path without our queue
        self.latest_rtt = 0.0
        self.recovery_start = -1.0    # losses of chunks sent before this do not cut again
        self.tokens = float(BURST)
        self.tokens_at = now
        self.backoff = 1

    # ------------------------------------------------------------ estimates

    def queueing_delay(self) -> float:
        return max(0.0, self.latest_rtt - self.base) if self.srtt is not None else 0.0

    def timeout(self) -> float:
        return min(RTO_MAX, self.rto * self.backoff)

    def _sample(self, rtt: float) -> None:
        """RFC 6298's estimator, with a LAN's bounds."""
        self.latest_rtt = rtt
        self.base = min(self.base, rtt)
        if self.srtt is None:
            self.srtt, self.rttvar = rtt, rtt / 2
        else:
            self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.srtt - rtt)
            self.srtt = 0.875 * self.srtt + 0.125 * rtt
        self.rto = min(RTO_MAX, max(RTO_MIN, self.srtt + 4 * self.rttvar))

    # ------------------------------------------------------------ events

    def on_acked(self, now: float, chunks: int, rtt: Optional[float]) -> None:
        """`chunks` newly acknowledged; `rtt` a sample from one sent once (Karn)."""
        if rtt is not None:
            self._sample(rtt)
        self.backoff = 1
        if chunks <= 0:
            return
        delay = self.queueing_delay()
        if self.cwnd < self.ssthresh:                       # slow start
            if delay > DELAY_TARGET / 2:
                self.ssthresh = self.cwnd                  # leave before the queue is full
            else:
                self.cwnd = min(self.max_cwnd, self.cwnd + chunks)
                return
        if delay <= DELAY_TARGET:                           # congestion avoidance: AIMD
            self.cwnd = min(self.max_cwnd, self.cwnd + chunks / self.cwnd)
        else:                                               # LEDBAT: back off with the excess
            excess = (delay - DELAY_TARGET) / DELAY_TARGET
            self.cwnd = max(MIN_CWND, self.cwnd - LEDBAT_GAIN * excess * chunks / self.cwnd)

    def on_lost(self, now: float, sent_at: float) -> None:
        """A chunk sent at `sent_at` is lost: halve, once per round trip."""
        if sent_at <= self.recovery_start:
            return
        self.recovery_start = now
        self.cwnd = max(MIN_CWND, self.cwnd * BETA)
        self.ssthresh = self.cwnd

    def on_probe_timeout(self) -> None:
        """Nothing acknowledged for a probe time-out (RFC 9002 section 6.2): the
        next waits twice as long. Not a loss, so the window stays: a receiver
        that was only descheduled for a moment answers for everything at once."""
        self.backoff = min(self.backoff * 2, 64)

    def on_persistent_congestion(self, now: float) -> None:
        """Losses spanning several time-outs (RFC 9002 section 7.6): start again
        from the minimum."""
        self.ssthresh = max(MIN_CWND, self.cwnd * BETA)
        self.cwnd = MIN_CWND
        self.recovery_start = now

    # ------------------------------------------------------------ pacing

    def rate(self) -> float:
        """Chunks a second the pacer lets out."""
        srtt = self.srtt if self.srtt is not None else RTO_INITIAL
        return PACING_GAIN * self.cwnd / max(srtt, 1e-4)

    def allowed(self, now: float, in_flight: int) -> int:
        """Chunks that may leave now: the window's room, within the pacer's tokens."""
        room = int(self.cwnd) - in_flight
        if room <= 0:
            return 0
        self.tokens = min(float(BURST), self.tokens + (now - self.tokens_at) * self.rate())
        self.tokens_at = now
        return min(room, int(self.tokens + EPSILON))

    def spent(self, chunks: int) -> None:
        self.tokens -= chunks

    def next_token(self, now: float) -> float:
        """When the pacer has a token again (now if it has one)."""
        if self.tokens + EPSILON >= 1:
            return now
        return self.tokens_at + (1 - self.tokens) / self.rate()
