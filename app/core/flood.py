"""Flood control: token buckets. Pure (time is passed in).

Generous bursts so a pasted paragraph goes through; beyond that, messages are
held and released at the sustained rate (the sender is told once), never
dropped and never punished with a ban (users hate that: devzat #136).
"""


EPSILON = 1e-9             # float refills stop a hair short of a whole token


class TokenBucket:
    __slots__ = ("rate", "burst", "tokens", "stamp")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp = now

    def _refill(self, now: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now

    def take(self, now: float) -> bool:
        """Spend one token if there is one."""
        self._refill(now)
        if self.tokens >= 1.0 - EPSILON:
            self.tokens = max(0.0, self.tokens - 1.0)
            return True
        return False

    def whole_tokens(self, now: float) -> int:
        """How many whole tokens there are (spend() them after use)."""
        self._refill(now)
        return int(self.tokens + EPSILON)

    def spend(self, count: int) -> None:
        """Spend `count` tokens that whole_tokens() said were there."""
        self.tokens = max(0.0, self.tokens - count)

    def next_token_at(self, now: float) -> float:
        """When the next whole token will be there."""
        self._refill(now)
        if self.tokens >= 1.0 - EPSILON:
            return now
        return now + max((1.0 - self.tokens) / self.rate, 1e-6)
