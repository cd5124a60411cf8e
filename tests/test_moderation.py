"""app.core.moderation: the admin's timed bans and mutes, with `now` passed in.

What the hub relies on: a ban by name holds whatever the letter case or
compatibility form the person rejoins with; a ban by address holds whether the
client shows up as IPv4 or as IPv4-mapped IPv6 (a dual-stack socket); every
rule ends by itself at its time, and the listing shows only live rules.
"""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core import text
from app.core.moderation import BanRow, Moderation, MuteRow, looks_like_ip, minutes_left, normal_ip

T0 = 1000.0


# ---------------------------------------------------------------- addresses

@pytest.mark.parametrize("value, expected", [
    ("10.0.0.5", "10.0.0.5"),
    ("::ffff:10.0.0.5", "10.0.0.5"),          # IPv4 on a dual-stack socket
    ("::FFFF:10.0.0.5", "10.0.0.5"),
    ("::ffff:a00:5", "10.0.0.5"),              # the same, written in hex
    ("2001:DB8:0:0::1", "2001:db8::1"),        # one spelling per IPv6 address
    ("::1", "::1"),
    ("张三", "张三"),                           # not an address: unchanged
    ("10.0.0", "10.0.0"),
    ("", ""),
])
def test_normal_ip(value: str, expected: str) -> None:
    assert normal_ip(value) == expected


@pytest.mark.parametrize("value, expected", [
    ("10.0.0.5", True), ("::1", True), ("::ffff:10.0.0.5", True), ("2001:db8::1", True),
    ("张三", False), ("alice", False), ("10.0.0", False), ("10.0.0.256", False),
    ("", False), ("1.2.3.4 ", False),
])
def test_looks_like_ip(value: str, expected: bool) -> None:
    assert looks_like_ip(value) is expected


@settings(max_examples=200, deadline=None)
@given(st.ip_addresses(v=4))
def test_every_ipv4_address_and_its_mapped_form_are_one(ip) -> None:
    assert normal_ip(str(ip)) == str(ip)
    assert normal_ip("::ffff:" + str(ip)) == str(ip)
    assert looks_like_ip(str(ip))


@pytest.mark.parametrize("seconds, minutes", [
    (0.5, 1), (59, 1), (60, 1), (61, 2), (119, 2), (120, 2), (3600, 60), (-5, 1)])
def test_minutes_left_rounds_up_and_says_at_least_one(seconds: float, minutes: int) -> None:
    assert minutes_left(T0, T0 + seconds) == minutes


# ---------------------------------------------------------------- bans

def test_a_name_ban_holds_across_case_and_compatibility_forms() -> None:
    rules = Moderation()
    rules.ban_name(T0, "Alice", 10, "spam")
    for spelling in ("Alice", "alice", "ALICE", "Ａｌｉｃｅ"):      # fullwidth too
        why = rules.ban_reason(T0 + 1, "192.0.2.1", spelling)
        assert why == "you are banned for 10 more minutes (spam)"
    assert rules.ban_reason(T0 + 1, "192.0.2.1", "Bob") is None


def test_a_chinese_name_ban() -> None:
    rules = Moderation()
    rules.ban_name(T0, "张三", 5)
    assert rules.ban_reason(T0, "192.0.2.1", "张三") == "you are banned for 5 more minutes"
    assert rules.ban_reason(T0, "192.0.2.1", "张四") is None


@pytest.mark.parametrize("banned, joining", [
    ("10.0.0.5", "10.0.0.5"),
    ("10.0.0.5", "::ffff:10.0.0.5"),          # banned as v4, comes back mapped
    ("::ffff:10.0.0.5", "10.0.0.5"),          # banned as the console showed it
    ("2001:db8::7", "2001:DB8:0::7"),
])
def test_an_address_ban_holds_in_every_spelling(banned: str, joining: str) -> None:
    rules = Moderation()
    rules.ban_ip(T0, banned, 3)
    assert rules.ban_reason(T0, joining, "anyone") == "you are banned for 3 more minutes"
    assert rules.ban_reason(T0, "10.0.0.6", "anyone") is None


def test_a_mapped_address_is_listed_as_ipv4() -> None:
    rules = Moderation()
    rules.ban_ip(T0, "::ffff:10.0.0.5", 3)
    assert rules.in_force(T0) == ([BanRow("address", "10.0.0.5", 3, "")], [])


def test_a_ban_ends_at_its_time() -> None:
    rules = Moderation()
    rules.ban_name(T0, "alice", 2)
    rules.ban_ip(T0, "10.0.0.5", 1)
    assert rules.ban_reason(T0 + 59.9, "10.0.0.5", "x") is not None
    assert rules.ban_reason(T0 + 60.0, "10.0.0.5", "x") is None       # until <= now: over
    why = rules.ban_reason(T0 + 60.0, "10.0.0.9", "alice")
    assert why == "you are banned for 1 more minutes"
    assert rules.ban_reason(T0 + 120.0, "10.0.0.9", "alice") is None
    assert not rules.banned_names and not rules.banned_ips           # expired rules are gone


def test_a_fractional_minute_ban() -> None:
    rules = Moderation()
    rules.ban_name(T0, "alice", 0.5)
    assert rules.ban_reason(T0 + 29, "h", "alice") == "you are banned for 1 more minutes"
    assert rules.ban_reason(T0 + 30, "h", "alice") is None


def test_banning_again_replaces_the_rule() -> None:
    rules = Moderation()
    rules.ban_name(T0, "alice", 60, "first")
    rules.ban_name(T0, "ALICE", 1, "second")
    assert rules.ban_reason(T0, "h", "alice") == "you are banned for 1 more minutes (second)"
    assert rules.ban_reason(T0 + 61, "h", "alice") is None


def test_unban_by_name_or_address() -> None:
    rules = Moderation()
    rules.ban_name(T0, "Alice", 10)
    rules.ban_ip(T0, "10.0.0.5", 10)
    assert not rules.unban("bob")
    assert rules.unban("ALICE")
    assert not rules.unban("alice")                                  # already lifted
    assert rules.unban("::ffff:10.0.0.5")                            # any spelling
    assert not rules.unban("10.0.0.5")
    assert rules.ban_reason(T0, "10.0.0.5", "alice") is None
    assert rules.in_force(T0) == ([], [])


def test_unban_lifts_a_name_and_an_address_that_are_spelled_alike() -> None:
    """/unban VALUE lifts it from both tables, not just the first that has it."""
    rules = Moderation()
    rules.ban_name(T0, "10.0.0.5", 5)
    rules.ban_ip(T0, "10.0.0.5", 5)
    assert rules.unban("10.0.0.5")
    assert not rules.banned_names and not rules.banned_ips


# ---------------------------------------------------------------- mutes

def test_mute_and_unmute() -> None:
    rules = Moderation()
    key = text.name_key("Alice")
    assert rules.mute_left(T0, key) is None
    rules.mute(T0, "ALICE", 5)                   # kept under the name key
    assert rules.mute_left(T0, key) == 5
    assert rules.mute_left(T0 + 61, key) == 4
    assert rules.unmute("alice")
    assert not rules.unmute("alice")
    assert rules.mute_left(T0, key) is None


def test_a_mute_ends_at_its_time() -> None:
    rules = Moderation()
    rules.mute(T0, "alice", 1)
    key = text.name_key("alice")
    assert rules.mute_left(T0 + 59.9, key) == 1
    assert rules.mute_left(T0 + 60.0, key) is None
    assert key not in rules.muted


def test_a_mute_is_not_a_ban() -> None:
    rules = Moderation()
    rules.mute(T0, "alice", 5)
    assert rules.ban_reason(T0, "10.0.0.5", "alice") is None


# ---------------------------------------------------------------- listing

def test_in_force_shows_live_rules_with_what_the_admin_typed() -> None:
    rules = Moderation()
    rules.ban_name(T0, "Alice", 10, "spam")
    rules.ban_ip(T0, "::ffff:10.0.0.5", 90)
    rules.mute(T0, "张三", 3)
    rules.ban_name(T0, "gone", 1)
    assert rules.in_force(T0 + 60) == (
        [BanRow("name", "Alice", 9, "spam"), BanRow("address", "10.0.0.5", 89, "")],
        [MuteRow("张三", 2)])
    assert rules.in_force(T0 + 90 * 60) == ([], [])


def test_expire_forgets_only_what_is_over() -> None:
    rules = Moderation()
    rules.ban_name(T0, "a", 1)
    rules.ban_name(T0, "b", 2)
    rules.ban_ip(T0, "10.0.0.1", 1)
    rules.ban_ip(T0, "10.0.0.2", 2)
    rules.mute(T0, "c", 1)
    rules.mute(T0, "d", 2)
    rules.expire(T0 + 60)
    assert sorted(rules.banned_names) == ["b"]
    assert sorted(rules.banned_ips) == ["10.0.0.2"]
    assert sorted(rules.muted) == ["d"]


@settings(max_examples=200, deadline=None)
@given(minutes=st.floats(min_value=0.02, max_value=10000.0),
       later=st.floats(min_value=0.0, max_value=1.0e6))
def test_a_ban_holds_exactly_until_its_time(minutes: float, later: float) -> None:
    rules = Moderation()
    rules.ban_ip(T0, "10.1.2.3", minutes)
    rules.ban_name(T0, "someone", minutes)
    now = T0 + later
    live = now < T0 + minutes * 60
    assert (rules.ban_reason(now, "10.1.2.3", "x") is not None) is live
    assert (rules.ban_reason(now, "10.9.9.9", "Someone") is not None) is live
    assert bool(rules.in_force(now)[0]) is live
