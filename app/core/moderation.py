"""The admin's rules: timed bans (by name or address) and timed mutes. Pure.

A ban or mute is kept by name key (NFKC + casefold) so a reconnect or a change
of letter case does not escape it; a ban by name also bans the address the
person was using, since changing names is easy.
"""
import ipaddress
from typing import Dict, List, NamedTuple, Optional, Tuple

from app.core import text


class BanRow(NamedTuple):
    """A ban in force, for the admin's listing."""
    kind: str               # "name" or "address"
    label: str
    minutes_left: int
    reason: str


class MuteRow(NamedTuple):
    label: str
    minutes_left: int


class Rule(NamedTuple):
    until: float
    reason: str
    label: str              # what the admin typed, for listings


def minutes_left(now: float, until: float) -> int:
    return max(1, int((until - now + 59) // 60))


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


class Moderation:
    def __init__(self) -> None:
        self.banned_names: Dict[str, Rule] = {}
        self.banned_ips: Dict[str, Rule] = {}
        self.muted: Dict[str, Rule] = {}

    def ban_name(self, now: float, name: str, minutes: float, reason: str = "") -> None:
        self.banned_names[text.name_key(text.normalize_name(name))] = Rule(
            now + minutes * 60, reason, name)

    def ban_ip(self, now: float, host: str, minutes: float, reason: str = "") -> None:
        ip = normal_ip(host)
        self.banned_ips[ip] = Rule(now + minutes * 60, reason, ip)

    def unban(self, value: str) -> bool:
        found = self.banned_ips.pop(normal_ip(value), None) is not None
        key = text.name_key(text.normalize_name(value))
        return (self.banned_names.pop(key, None) is not None) or found

    def ban_reason(self, now: float, host: str, name: str) -> Optional[str]:
        """Why this address or name may not join now, with the time left; or None."""
        self.expire(now)
        rule = (self.banned_ips.get(normal_ip(host))
                or self.banned_names.get(text.name_key(name)))
        if rule is None:
            return None
        why = "you are banned for %d more minutes" % minutes_left(now, rule.until)
        return why + (" (%s)" % rule.reason if rule.reason else "")

    def mute(self, now: float, name: str, minutes: float) -> None:
        self.muted[text.name_key(text.normalize_name(name))] = Rule(now + minutes * 60, "", name)

    def unmute(self, name: str) -> bool:
        return self.muted.pop(text.name_key(text.normalize_name(name)), None) is not None

    def mute_left(self, now: float, key: str) -> Optional[int]:
        """Minutes of mute left for this name key, or None when not muted."""
        rule = self.muted.get(key)
        if rule is None:
            return None
        if rule.until <= now:
            del self.muted[key]
            return None
        return minutes_left(now, rule.until)

    def expire(self, now: float) -> None:
        for table in (self.banned_names, self.banned_ips, self.muted):
            for key in [k for k, rule in table.items() if rule.until <= now]:
                del table[key]

    def in_force(self, now: float) -> Tuple[List[BanRow], List[MuteRow]]:
        """The bans (by name, then by address) and the mutes not yet over."""
        self.expire(now)
        bans = [BanRow(kind, rule.label, minutes_left(now, rule.until), rule.reason)
                for kind, table in (("name", self.banned_names), ("address", self.banned_ips))
                for rule in table.values()]
        mutes = [MuteRow(rule.label, minutes_left(now, rule.until))
                 for rule in self.muted.values()]
        return bans, mutes
