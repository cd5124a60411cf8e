"""Limits per person: who counts as one person, and what each may take.

Pure (time is passed in). The hub asks it at every HELLO (may this person
have one more session? one more seat of a nearly full room?) and at every
line and member-list request (is there budget left?).

Who is one person (docs/SECURITY.md, "Limits per person"):
  * a host is its address (an IPv4-mapped IPv6 address is its IPv4 one);
  * under protocol version 2 a client's long-term key is a person too, so the
    sessions of one client key count together from every address it comes
    from (its machine's IPv4 and IPv6 addresses, a laptop that roams);
  * a session draws on the budgets of its address AND of its key: opening
    more sessions, or making a new key for each, gives no more than one
    person's rate from that address;
  * the server's own machine (loopback) is exempt from the caps and shares no
    budget: the teacher, ssh users on the server and the tests run there; its
    sessions are each a person of their own (and count for the room's reserve,
    below, as one host).
What cannot be told apart: two addresses of one machine when the client has no
key (version 1) or makes a new key per session, and addresses a host mints
(an IPv6 host may take many addresses of its /64). Each such address is a host
of its own; the seat reserve keeps a class able to join while one address (or a
few) is at its cap.
"""
from typing import Dict, Iterable, Optional, Tuple

from app.core.flood import TokenBucket
from app.core.moderation import normal_ip

Person = Tuple[str, str]       # ("host", address) or ("key", hex of the client key)


def is_loopback(ip: str) -> bool:
    return ip.startswith("127.") or ip == "::1"


def people(host: str, client_key: Optional[bytes]) -> Tuple[Person, ...]:
    """The persons a session from `host` with `client_key` counts as (none on
    the server's own machine)."""
    ip = normal_ip(host)
    if is_loopback(ip):
        return ()
    found: Tuple[Person, ...] = (("host", ip),)
    return found + (("key", client_key.hex()),) if client_key else found


class Allowance:
    """Buckets spent together: a token from each, or from none."""
    __slots__ = ("buckets",)

    def __init__(self, buckets: Tuple[TokenBucket, ...]) -> None:
        self.buckets = buckets

    def take(self, now: float) -> bool:
        if all(b.next_token_at(now) <= now for b in self.buckets):
            for bucket in self.buckets:
                bucket.take(now)
            return True
        return False

    def next_token_at(self, now: float) -> float:
        return max(b.next_token_at(now) for b in self.buckets)

    @property
    def stamp(self) -> float:
        return min(b.stamp for b in self.buckets)


class Budgets:
    """One kind of budget (chat lines, member lists) shared by each person's
    sessions; a bucket that has refilled is forgotten (a new one is as full)."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.buckets: Dict[Person, TokenBucket] = {}

    def allowance(self, now: float, persons: Iterable[Person]) -> Allowance:
        """The allowance of a session that counts as `persons` (its own bucket
        when it counts as nobody: loopback)."""
        buckets = []
        for person in persons:
            bucket = self.buckets.get(person)
            if bucket is None:
                bucket = self.buckets[person] = TokenBucket(self.rate, self.burst, now)
            buckets.append(bucket)
        return Allowance(tuple(buckets) or (TokenBucket(self.rate, self.burst, now),))

    def forget_full(self, now: float, keep: Iterable[Person]) -> None:
        """Drop the buckets no session uses that are full again."""
        used = set(keep)
        for person, bucket in list(self.buckets.items()):
            if person not in used and bucket.next_token_at(now) <= now \
                    and bucket.tokens >= bucket.burst:
                del self.buckets[person]


class Seats:
    """Sessions per person and the room's seats.

    A person (address, client key) has at most `per_person` sessions. The last
    `reserve` seats of the room go only to a session whose address and key have
    none yet: one host (or a few) at its cap cannot take the seats a class
    still needs."""

    def __init__(self, capacity: int, per_person: int, reserve: int) -> None:
        self.capacity = capacity
        self.per_person = per_person          # 0: no cap
        self.reserve = reserve
        self.total = 0
        self.count: Dict[Person, int] = {}

    @staticmethod
    def _counted(host: str, persons: Tuple[Person, ...]) -> Tuple[Person, ...]:
        """What a session counts under: its persons, and its address even on
        loopback (the reserve treats the server's machine as one host)."""
        ip = normal_ip(host)
        return persons if persons else (("host", ip),)

    def refusal(self, host: str, persons: Tuple[Person, ...],
                replacing: Optional[Tuple[Person, ...]] = None) -> Optional[str]:
        """None if one more session of these may join; else "room" (full) or
        "person" (this address or key has its most). `replacing`: the persons
        of a session at the same address that the new one replaces (not counted)."""
        gone = set(self._counted(host, replacing)) if replacing is not None else set()

        def have(person: Person) -> int:
            return self.count.get(person, 0) - (person in gone)

        total = self.total - (replacing is not None)
        if total >= self.capacity:
            return "room"
        if self.per_person and any(have(p) >= self.per_person for p in persons):
            return "person"
        if total >= self.capacity - self.reserve \
                and any(have(p) for p in self._counted(host, persons)):
            return "room"                     # the reserve: for newcomers only
        return None

    def add(self, host: str, persons: Tuple[Person, ...]) -> None:
        self.total += 1
        for person in self._counted(host, persons):
            self.count[person] = self.count.get(person, 0) + 1

    def remove(self, host: str, persons: Tuple[Person, ...]) -> None:
        self.total -= 1
        for person in self._counted(host, persons):
            left = self.count[person] - 1
            if left:
                self.count[person] = left
            else:
                del self.count[person]


def default_reserve(capacity: int) -> int:
    """Seats kept for newcomers: a tenth of the room (a class of 30 in a room of 300)."""
    return capacity // 10
