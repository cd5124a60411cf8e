"""LAN discovery's pure parts (app/core/discovery_wire.py): codec round trips
and the server's Responder (which probe gets which answer, rate-limited), with
`now` given in milliseconds. The codec's fixed layouts and the shell around
them are pinned in test_discovery.py."""
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core import discovery_wire as wire
from app.core import protocol

START = 700.0
ID = b"\x05" * 8


def ms(n: float) -> float:
    return START + n / 1000.0


def responder() -> wire.Responder:
    return wire.Responder(ID, "lab-pc", "0.1.0", ms(0))


def answers(r: wire.Responder, now: float, count: int) -> int:
    probe = wire.encode_probe(b"n" * 8)
    return sum(r.answer(now, probe, 9797, 1) is not None for _ in range(count))


# ================================================================ round trips

CLEAN = st.text(st.characters(whitelist_categories=("L", "N")), max_size=64)


@settings(max_examples=300, deadline=None)
@given(nonce=st.binary(min_size=8, max_size=8), version=st.integers(0, 255),
       size=st.integers(wire.PROBE_FIXED.size, protocol.MAX_DATAGRAM))
def test_probe_round_trip(nonce, version, size):
    probe = wire.encode_probe(nonce, version, size)
    assert len(probe) == size and wire.is_probe(probe)
    assert wire.decode_probe(probe) == wire.Probe(version, nonce)


@settings(max_examples=300, deadline=None)
@given(nonce=st.binary(min_size=8, max_size=8), server_id=st.binary(min_size=8, max_size=8),
       name=CLEAN.filter(lambda s: len(s.encode()) <= wire.MAX_SERVER_NAME),
       software=CLEAN.filter(lambda s: len(s.encode()) <= wire.MAX_SOFTWARE),
       port=st.integers(0, 65535), online=st.integers(0, 0xFFFF),
       version=st.integers(0, 255), flags=st.integers(0, 255))
def test_answer_round_trip_in_a_probe_of_our_size(nonce, server_id, name, software, port,
                                                  online, version, flags):
    """Whatever fits the limits comes back as it went (a 128-byte probe has
    room for a whole name and version)."""
    info = wire.ServerInfo(server_id, name, port, online, version, software, flags)
    data = wire.encode_answer(wire.Probe(1, nonce), info, wire.PROBE_SIZE)
    assert data is not None and len(data) <= wire.PROBE_SIZE
    assert wire.decode_answer(data) == wire.Answer(version, nonce, server_id, port, online,
                                                   name, software, flags)
    assert not wire.is_probe(data) and wire.decode_probe(data) is None


# ================================================================ the responder

def test_responder_answers_a_probe_with_the_rooms_facts():
    r = responder()
    probe = wire.encode_probe(b"abcdefgh")
    data = r.answer(ms(0), probe, 5000, 42, password=True)
    assert data is not None and len(data) <= len(probe)
    assert wire.decode_answer(data) == wire.Answer(
        protocol.VERSION, b"abcdefgh", ID, 5000, 42, "lab-pc", "0.1.0", wire.FLAG_PASSWORD)
    assert wire.decode_answer(r.answer(ms(0), probe, 5000, 0)).flags == 0
    assert (r.answered, r.dropped) == (2, 0)


def test_responder_is_silent_for_what_is_not_a_probe_or_too_short():
    r = responder()
    probe = wire.encode_probe(b"q" * 8)
    for data in (b"", b"junk", protocol.encode_header(protocol.HELLO) + bytes(100),
                 probe[:13], probe[:wire.ANSWER_MIN - 1]):
        assert r.answer(ms(0), data, 9797, 1) is None
    assert r.answer(ms(0), probe[:wire.ANSWER_MIN], 9797, 1) is not None
    assert (r.answered, r.dropped) == (1, 5)


def test_responder_answers_a_burst_of_1000_then_500_a_second():
    r = responder()
    assert answers(r, ms(0), 1200) == 1000                 # the burst, then nothing
    assert answers(r, ms(1), 5) == 0                       # half a token in 1 ms
    assert answers(r, ms(2), 5) == 1                       # one token every 2 ms
    assert answers(r, ms(102), 100) == 50                  # 100 ms: 50 answers
    assert (r.answered, r.dropped) == (1051, 1200 - 1000 + 5 + 4 + 50)


def test_responder_refills_to_the_burst_and_no_further():
    r = responder()
    assert answers(r, ms(0), 1000) == 1000
    assert answers(r, ms(60000), 1500) == 1000             # a minute later: one burst


def test_junk_that_looks_like_a_probe_spends_a_token_too():
    r = responder()
    short = wire.PROBE_MAGIC + b"x"                       # too short to answer
    for _ in range(1000):
        assert r.answer(ms(0), short, 9797, 1) is None
    assert answers(r, ms(0), 1) == 0                       # the burst is spent


@settings(max_examples=300, deadline=None)
@given(tail=st.binary(max_size=1300), name=st.text(max_size=120),
       online=st.integers(0, 1 << 20), password=st.booleans())
def test_responder_never_answers_larger_than_the_probe(tail, name, online, password):
    r = wire.Responder(ID, name, "0.1.0-" + "9" * 40, ms(0))
    data = wire.PROBE_MAGIC + tail
    answer = r.answer(ms(0), data, 9797, online, password)
    if answer is None:
        assert len(data) < wire.ANSWER_MIN or len(data) > protocol.MAX_DATAGRAM
    else:
        assert len(answer) <= len(data)
        got = wire.decode_answer(answer)
        assert got.online == min(online, 0xFFFF)
        assert got.flags == (wire.FLAG_PASSWORD if password else 0)
