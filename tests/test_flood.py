"""app.core.flood.TokenBucket: what the hub's flood control relies on.

The bucket starts full (a pasted paragraph goes through), refills at `rate`
tokens a second up to `burst`, never goes below zero, ignores time that stands
still or runs backwards, and `next_token_at` says when `take` will next succeed
(the hub schedules the release of held lines by it).
"""
from typing import List, Tuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.flood import EPSILON, TokenBucket
from app.core.hub import HubConfig


def drain(bucket: TokenBucket, now: float, limit: int = 100000) -> int:
    """Take every token there is at `now`; how many there were."""
    taken = 0
    while taken < limit and bucket.take(now):
        taken += 1
    return taken


def test_starts_full_and_gives_exactly_the_burst_at_one_instant() -> None:
    bucket = TokenBucket(rate=5.0, burst=30.0, now=100.0)
    assert drain(bucket, 100.0) == 30
    assert not bucket.take(100.0)
    assert bucket.tokens >= 0.0


def test_the_hubs_defaults_let_a_pasted_paragraph_through() -> None:
    """The promise of SECURITY.md: a 20-line paste at once is not held."""
    config = HubConfig()
    bucket = TokenBucket(config.msg_rate, config.msg_burst, 0.0)
    assert all(bucket.take(0.0) for _ in range(20))


def test_refills_at_the_rate() -> None:
    bucket = TokenBucket(rate=5.0, burst=30.0, now=0.0)
    drain(bucket, 0.0)
    assert not bucket.take(0.1)            # half a token
    assert bucket.take(0.2)                # one whole token after 1/rate
    assert not bucket.take(0.2)
    assert drain(bucket, 1.2) == 5         # one more second: five more


def test_refill_is_capped_at_the_burst() -> None:
    bucket = TokenBucket(rate=5.0, burst=30.0, now=0.0)
    drain(bucket, 0.0)
    assert drain(bucket, 60.0) == 30       # a minute's worth would be 300


@pytest.mark.parametrize("gap", [1e3, 1e6, 1e9])
def test_a_huge_gap_refills_to_the_burst_and_no_more(gap: float) -> None:
    bucket = TokenBucket(rate=5.0, burst=30.0, now=0.0)
    drain(bucket, 0.0)
    assert drain(bucket, gap) == 30
    assert bucket.tokens <= bucket.burst
    assert bucket.next_token_at(gap) > gap


def test_time_standing_still_refills_nothing() -> None:
    bucket = TokenBucket(rate=5.0, burst=3.0, now=7.0)
    assert drain(bucket, 7.0) == 3
    for _ in range(1000):
        assert not bucket.take(7.0)
    assert bucket.next_token_at(7.0) == pytest.approx(7.2)


def test_time_going_backwards_refills_nothing_and_is_not_counted_twice() -> None:
    bucket = TokenBucket(rate=1.0, burst=2.0, now=10.0)
    drain(bucket, 10.0)
    # A clock step back (or a caller's stale `now`) gives nothing ...
    assert not bucket.take(5.0)
    assert bucket.next_token_at(5.0) > 5.0
    # ... and the time between 5 and 10 is not credited when the clock comes back.
    assert not bucket.take(10.5)
    assert bucket.take(11.0)
    assert not bucket.take(11.0)


def test_next_token_at_is_now_while_there_is_a_token() -> None:
    bucket = TokenBucket(rate=2.0, burst=2.0, now=0.0)
    assert bucket.next_token_at(0.0) == 0.0
    bucket.take(0.0)
    assert bucket.next_token_at(0.0) == 0.0
    bucket.take(0.0)
    assert bucket.next_token_at(0.0) == pytest.approx(0.5)


def test_next_token_at_is_never_now_when_empty() -> None:
    """Even a bucket a hair short of a token asks for a later wake-up, so a loop
    that sleeps until next_token_at never spins."""
    bucket = TokenBucket(rate=1e9, burst=1.0, now=0.0)
    bucket.take(0.0)
    bucket.tokens = 1.0 - 1e-6      # short of a token by more than EPSILON
    assert not bucket.take(0.0)
    assert bucket.next_token_at(0.0) >= 1e-6


def test_a_token_short_by_float_rounding_counts_and_leaves_zero_not_less() -> None:
    """A float refill can stop a hair short of a whole token: that counts as a
    token (else a take at next_token_at's time could fail), and the bucket is
    then empty, never negative (a debt would delay the next token)."""
    bucket = TokenBucket(rate=1.0, burst=1.0, now=0.0)
    bucket.tokens = 1.0 - EPSILON / 10
    assert bucket.take(0.0)
    assert bucket.tokens == 0.0
    assert bucket.next_token_at(0.0) == pytest.approx(1.0)


def test_next_token_at_tells_the_truth() -> None:
    """Taking at the promised time succeeds; halfway there it does not."""
    bucket = TokenBucket(rate=3.0, burst=4.0, now=50.0)
    drain(bucket, 50.0)
    now = 50.0
    for _ in range(30):
        due = bucket.next_token_at(now)
        assert due > now
        assert not bucket.take((now + due) / 2)
        assert bucket.take(due)
        now = due
    assert now == pytest.approx(60.0)   # 30 tokens at 3 a second


@pytest.mark.parametrize("base", [1e7, 1e9])
def test_on_a_large_clock_the_promised_time_is_at_most_one_retry_early(base: float) -> None:
    """A monotonic clock far from 0 rounds `due - now`: a take at `due` can fall
    a float's width short; then next_token_at moves on (never returns the same
    time) and the next try succeeds. The rate still holds over many tokens."""
    bucket = TokenBucket(rate=5.0, burst=30.0, now=base)
    drain(bucket, base)
    now, got = base, 0
    for _ in range(300):
        due = bucket.next_token_at(now)
        assert due > now
        now = due
        if bucket.take(now):
            got += 1
        else:
            retry = bucket.next_token_at(now)
            assert now < retry < now + 1e-3
            now = retry
            assert bucket.take(now)
            got += 1
        if got == 100:
            break
    assert got == 100
    assert now - base == pytest.approx(20.0, abs=1e-3)


steps = st.lists(
    st.tuples(st.floats(min_value=-5.0, max_value=5.0, allow_nan=False),
              st.booleans()),
    min_size=1, max_size=200)


@settings(max_examples=300, deadline=None)
@given(rate=st.floats(min_value=0.1, max_value=100.0),
       burst=st.floats(min_value=1.0, max_value=100.0),
       moves=steps)
def test_never_more_than_the_burst_plus_the_refill(rate: float, burst: float,
                                                   moves: List[Tuple[float, bool]]) -> None:
    """Whatever the clock does (forwards, still, backwards), the tokens stay in
    [0, burst] and the takes that succeed are paid for: at most the burst plus
    the refill over the furthest time seen (EPSILON per take of float slack)."""
    start = 1000.0
    bucket = TokenBucket(rate, burst, start)
    now = furthest = start
    taken = 0
    for step, ask_when in moves:
        now += step
        furthest = max(furthest, now)
        if ask_when:
            assert bucket.next_token_at(now) >= now
        elif bucket.take(now):
            taken += 1
        assert 0.0 <= bucket.tokens <= burst
    assert taken * (1.0 - EPSILON) <= burst + rate * (furthest - start) + 1e-6


@settings(max_examples=200, deadline=None)
@given(rate=st.floats(min_value=0.1, max_value=100.0),
       burst=st.integers(min_value=1, max_value=50),
       seconds=st.floats(min_value=0.5, max_value=20.0))
def test_a_patient_taker_gets_the_rate(rate: float, burst: int, seconds: float) -> None:
    """Taking whenever next_token_at says gives the burst, then `rate` a second:
    held lines are released at the sustained rate, not slower."""
    bucket = TokenBucket(rate, float(burst), 0.0)
    now, taken = 0.0, 0
    for _ in range(burst + int(rate * seconds) + 10):
        due = bucket.next_token_at(now)
        if due > seconds:
            break
        now = due
        if bucket.take(now):
            taken += 1
    expected = burst + int(rate * seconds + 1e-9)
    assert expected - 1 <= taken <= expected


def test_whole_tokens_and_spend_count_what_take_would_give() -> None:
    """The door's budget (app/net/server.py) reads whole_tokens(), reads that many
    datagrams at most, and spend()s what it read."""
    bucket = TokenBucket(rate=100.0, burst=10.0, now=0.0)
    assert bucket.whole_tokens(0.0) == 10
    bucket.spend(7)
    assert bucket.whole_tokens(0.0) == 3
    assert bucket.whole_tokens(0.025) == 5          # 2.5 tokens more: two whole ones
    bucket.spend(5)
    assert bucket.whole_tokens(0.025) == 0 and not bucket.take(0.025)
    assert bucket.next_token_at(0.025) == pytest.approx(0.03)
    assert bucket.whole_tokens(10.0) == 10          # never above the burst
