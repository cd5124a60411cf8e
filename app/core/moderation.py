"""The admin's rules: bans, kick cooldowns and mutes, each a Rule. Pure.

A rule covers name keys (NFKC + casefold: a reconnect or another letter case
does not escape it), hosts (addresses as normal_ip gives them) and, once
clients have long-term keys (the secure-sessions issue), client keys: the
`keys` field is that hook, empty until then; `refusal(host, name, key)`
already takes the key. What a rule covers is fixed when it is made, so lifting
it (/unban) takes away exactly what it added and nothing another rule added:
`/ban lisi` covers the name lisi and the host lisi was using; `/unban lisi`
(or `/unban` of that host) lifts both; a separate `/ban 10.0.0.5` stays.

A kick is a rule too (kind KICK): the kicked name and host are refused until
the cooldown ends (a restart does not end it: the rules are stored,
app/net/state_db.py, as Rule.to_row rows).
"""
import hashlib
import ipaddress
import json
from typing import Iterable, List, NamedTuple, Optional, Sequence, Tuple

from app.core import text

KICK, BAN, MUTE = "kick", "ban", "mute"


def token_digest(token: bytes) -> str:
    """What a kick keeps of a client's resume token (Rule.tokens): SHA-256,
    hex, so the room's database holds no token that could resume a session."""
    return hashlib.sha256(token).hexdigest()


def normal_ip(host: str) -> str:
    """An IPv4 client on a dual-stack socket shows as ::ffff:a.b.c.d: ban a.b.c.d."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host
    mapped = getattr(ip, "ipv4_mapped", None)
    return str(mapped or ip)


def looks_like_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        return False


def name_key(name: str) -> str:
    return text.name_key(text.normalize_name(name))


def minutes_left(now: float, until: float) -> int:
    return max(1, int((until - now + 59) // 60))


class Rule(NamedTuple):
    kind: str                     # KICK (a cooldown), BAN or MUTE
    label: str                    # what the admin named: a name as the room spells it, or a host
    names: Tuple[str, ...]        # name keys it covers
    hosts: Tuple[str, ...]        # hosts it covers (normal_ip)
    keys: Tuple[str, ...]         # client keys it covers (none until clients have keys)
    since: float
    until: float
    reason: str                   # the admin's words ("" for none)
    # A kick's: the kicked client's resume token, as token_digest (hex): its
    # running client is refused under any name and from any address.
    tokens: Tuple[str, ...] = ()

    def covers(self, host: str, key: str, client_key: str = "") -> bool:
        return (key in self.names or normal_ip(host) in self.hosts
                or bool(client_key) and client_key in self.keys)

    def to_row(self) -> tuple:
        """The row app/net/state_db.py stores: lists as JSON text."""
        return (self.kind, self.label, json.dumps(list(self.names), ensure_ascii=False),
                json.dumps(list(self.hosts)), json.dumps(list(self.keys)), self.since,
                self.until, self.reason, json.dumps(list(self.tokens)))

    @classmethod
    def from_row(cls, row: Sequence) -> "Rule":
        kind, label, names, hosts, keys, since, until, reason = row[:8]
        tokens = tuple(json.loads(row[8])) if len(row) > 8 else ()
        return cls(str(kind), str(label), tuple(json.loads(names)), tuple(json.loads(hosts)),
                   tuple(json.loads(keys)), float(since), float(until), str(reason),
                   tuple(str(t) for t in tokens))


class Moderation:
    def __init__(self) -> None:
        self.rules: List[Rule] = []       # in the order they were made

    def add(self, rule: Rule) -> Rule:
        if rule.kind == MUTE:             # one mute per name: a new one replaces it
            self.rules = [r for r in self.rules
                          if not (r.kind == MUTE and set(r.names) & set(rule.names))]
        self.rules.append(rule)
        return rule

    def restore(self, rows: Iterable[Sequence], now: float) -> None:
        """The rules a database kept (those still in force)."""
        for row in rows:
            rule = Rule.from_row(row)
            if rule.until > now:
                self.add(rule)

    def rows(self) -> List[tuple]:
        return [rule.to_row() for rule in self.rules]

    def refusal(self, now: float, host: str, name: str, client_key: str = "") -> Optional[Rule]:
        """The ban (or kick cooldown) that refuses this host, name or client key
        now: the one that ends last; None if none does."""
        key = text.name_key(name)
        found = [r for r in self.rules if r.kind != MUTE and r.until > now
                 and r.covers(host, key, client_key)]
        return max(found, key=lambda r: r.until) if found else None

    def lift(self, target: str) -> List[Rule]:
        """/unban TARGET: the bans and kick cooldowns named TARGET when made, or
        else those that cover it (a name or a host); each is lifted whole."""
        key, host = name_key(target), normal_ip(target)
        bans = [r for r in self.rules if r.kind != MUTE]
        named = [r for r in bans if name_key(r.label) == key or r.label == host]
        chosen = named or [r for r in bans if key in r.names or host in r.hosts]
        self.rules = [r for r in self.rules if r not in chosen]
        return chosen

    def mute(self, now: float, label: str, seconds: float) -> Rule:
        return self.add(Rule(MUTE, label, (name_key(label),), (), (), now, now + seconds, ""))

    def unmute(self, name: str) -> Optional[Rule]:
        key = name_key(name)
        found = [r for r in self.rules if r.kind == MUTE and key in r.names]
        self.rules = [r for r in self.rules if r not in found]
        return found[0] if found else None

    def muted(self, now: float, key: str) -> Optional[Rule]:
        """The mute on this name key, if one is in force."""
        for rule in self.rules:
            if rule.kind == MUTE and key in rule.names and rule.until > now:
                return rule
        return None

    def expire(self, now: float) -> List[Rule]:
        """Take out the rules that are over; they are returned (the hub tells
        a muted member that the mute ended)."""
        over = [r for r in self.rules if r.until <= now]
        if over:
            self.rules = [r for r in self.rules if r.until > now]
        return over

    def in_force(self, now: float) -> Tuple[List[Rule], List[Rule]]:
        """The bans and kick cooldowns, then the mutes, not yet over."""
        live = [r for r in self.rules if r.until > now]
        return [r for r in live if r.kind != MUTE], [r for r in live if r.kind == MUTE]
