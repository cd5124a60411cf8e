"""app.core.moderation: the admin's bans, kick cooldowns and mutes (Rules),
with `now` passed in.

What the hub relies on: a ban by name holds whatever the letter case or
compatibility form the person rejoins with; a ban by address holds whether the
client shows up as IPv4 or as IPv4-mapped IPv6 (a dual-stack socket); lifting
a rule takes away exactly what it covered; every rule ends by itself at its
time; rules survive a round trip through the database's rows.
"""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core import text
from app.core.moderation import (
    BAN,
    KICK,
    MUTE,
    Moderation,
    Rule,
    looks_like_ip,
    minutes_left,
    normal_ip,
)

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

def ban(label, names=(), hosts=(), until=T0 + 600, kind=BAN, reason="") -> Rule:
    return Rule(kind, label, tuple(names), tuple(hosts), (), T0, until, reason)


def test_a_name_ban_holds_across_case_and_compatibility_forms() -> None:
    rules = Moderation()
    rules.add(ban("Alice", [text.name_key("Alice")]))
    for spelling in ("alice", "ALICE", "Ａｌｉｃｅ"):
        assert rules.refusal(T0 + 1, "192.0.2.1", spelling) is not None
    assert rules.refusal(T0 + 1, "192.0.2.1", "Bob") is None


def test_a_host_ban_holds_for_ipv4_and_its_mapped_form_and_no_other() -> None:
    rules = Moderation()
    rules.add(ban("10.0.0.5", hosts=["10.0.0.5"]))
    assert rules.refusal(T0, "::ffff:10.0.0.5", "anyone") is not None
    assert rules.refusal(T0, "10.0.0.6", "anyone") is None


def test_the_client_key_hook_matches_only_a_rule_with_that_key() -> None:
    rules = Moderation()
    rules.add(Rule(BAN, "key", (), (), ("ab" * 16,), T0, T0 + 60, ""))
    assert rules.refusal(T0, "10.0.0.1", "x", client_key="ab" * 16) is not None
    assert rules.refusal(T0, "10.0.0.1", "x", client_key="cd" * 16) is None
    assert rules.refusal(T0, "10.0.0.1", "x") is None


def test_the_refusal_that_ends_last_is_the_one_told() -> None:
    rules = Moderation()
    rules.add(ban("a", ["a"], until=T0 + 60))
    rules.add(ban("h", hosts=["10.0.0.1"], until=T0 + 600))
    assert rules.refusal(T0, "10.0.0.1", "a").until == T0 + 600


def test_lift_by_label_takes_the_whole_rule_and_leaves_the_others() -> None:
    rules = Moderation()
    by_host = rules.add(ban("10.0.0.5", hosts=["10.0.0.5"]))
    by_name = rules.add(ban("lisi", ["lisi"], ["10.0.0.5"]))
    assert rules.lift("LISI") == [by_name]
    assert rules.rules == [by_host]
    assert rules.refusal(T0, "10.0.0.5", "x") is by_host
    assert rules.lift("lisi") == []


def test_lift_by_what_a_rule_covers_when_no_label_matches() -> None:
    rules = Moderation()
    by_name = rules.add(ban("lisi", ["lisi"], ["10.0.0.5"]))
    kick = rules.add(ban("wang", ["wang"], ["10.0.0.7"], kind=KICK))
    assert rules.lift("::ffff:10.0.0.5") == [by_name]
    assert rules.lift("10.0.0.7") == [kick]
    assert rules.rules == []


def test_mutes_one_per_name_muted_and_unmute() -> None:
    rules = Moderation()
    rules.mute(T0, "张三", 300)
    rules.mute(T0, "张三", 60)                       # a new mute replaces the old
    key = text.name_key("张三")
    assert rules.muted(T0, key).until == T0 + 60
    assert rules.refusal(T0, "h", "张三") is None     # a mute refuses nobody
    assert rules.unmute("张三").kind == MUTE
    assert rules.muted(T0, key) is None and rules.unmute("张三") is None


def test_expire_returns_and_forgets_only_what_is_over() -> None:
    rules = Moderation()
    short, long = rules.add(ban("a", ["a"], until=T0 + 60)), rules.add(ban("b", ["b"]))
    muted = rules.mute(T0, "c", 60)
    assert rules.expire(T0 + 60) == [short, muted]
    assert rules.rules == [long]
    assert rules.in_force(T0 + 60) == ([long], [])


def test_rules_survive_their_database_rows_and_over_ones_are_not_restored() -> None:
    rules = Moderation()
    rules.add(ban("张三", [text.name_key("张三")], ["10.0.0.5"], reason="刷屏"))
    rules.mute(T0, "lisi", 30)
    again = Moderation()
    again.restore(rules.rows(), T0 + 1)
    assert again.rules == rules.rules
    later = Moderation()
    later.restore(rules.rows(), T0 + 31)
    assert [r.kind for r in later.rules] == [BAN]


@settings(max_examples=200, deadline=None)
@given(seconds=st.floats(min_value=1.0, max_value=1.0e6),
       later=st.floats(min_value=0.0, max_value=2.0e6))
def test_a_ban_holds_exactly_until_its_time(seconds: float, later: float) -> None:
    rules = Moderation()
    rules.add(ban("10.1.2.3", hosts=["10.1.2.3"], until=T0 + seconds))
    rules.add(ban("someone", ["someone"], until=T0 + seconds))
    now = T0 + later
    live = now < T0 + seconds
    assert (rules.refusal(now, "10.1.2.3", "x") is not None) is live
    assert (rules.refusal(now, "10.9.9.9", "Someone") is not None) is live
    assert bool(rules.in_force(now)[0]) is live
