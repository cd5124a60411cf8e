"""app.core.protocol: every encoder and its decoder agree, and a decoder given
anything else raises ProtocolError, never another exception.

Round trips are hypothesis properties over the whole range of every field
(docs/PROTOCOL.md sections 2-4, 6.8). The hostile side: random bytes, valid
encodings cut short, valid encodings with bytes added, valid encodings with
bytes changed. The server's handler counts a ProtocolError as one malformed
datagram; any other exception would be a crash, which is what these rule out
at the codec level (tests/test_security.py does it for the whole hub).
"""
import struct
from typing import Callable, List, Tuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core import protocol
from app.core.protocol import Event, Frame, Header, Hello, ProtocolError, Refuse, Said, Welcome

u8 = st.integers(min_value=0, max_value=0xFF)
u16 = st.integers(min_value=0, max_value=0xFFFF)
u32 = st.integers(min_value=0, max_value=0xFFFFFFFF)
u64 = st.integers(min_value=0, max_value=0xFFFFFFFFFFFFFFFF)
times = st.floats(allow_nan=False)          # NaN is refused by decode_event (and != itself)


def utf8_text(limit: int) -> st.SearchStrategy:
    """Text whose UTF-8 form is at most `limit` bytes (any code point but surrogates)."""
    return st.text(max_size=limit).filter(lambda s: len(s.encode("utf-8")) <= limit)


names = utf8_text(protocol.MAX_NAME_BYTES)
texts = utf8_text(protocol.MAX_TEXT_BYTES)
reasons = utf8_text(protocol.MAX_REASON_BYTES)
junk = st.binary(max_size=protocol.MAX_DATAGRAM + 100)

FUZZ = settings(max_examples=300, deadline=None)
ROUND = settings(max_examples=200, deadline=None)


def only_protocol_errors(decode: Callable[[bytes], object], data: bytes) -> None:
    """decode(data) returns or raises ProtocolError; anything else fails the test."""
    try:
        decode(data)
    except ProtocolError:
        pass


def every_cut_raises(decode: Callable[[bytes], object], encoded: bytes) -> None:
    for size in range(len(encoded)):
        with pytest.raises(ProtocolError):
            decode(encoded[:size])


# ---------------------------------------------------------------- header

@st.composite
def headers(draw) -> Header:
    return Header(draw(st.sampled_from(sorted(protocol.DATAGRAM_TYPES))), draw(u16),
                  draw(u32), draw(u32), draw(u32), draw(u32))


@ROUND
@given(headers(), st.binary(max_size=protocol.MAX_DATAGRAM - protocol.HEADER_SIZE))
def test_header_round_trip(header: Header, body: bytes) -> None:
    data = protocol.encode_header(header.type, header.session, header.pkt, header.ack,
                                  header.sack, header.flags) + body
    assert len(protocol.encode_header(header.type)) == protocol.HEADER_SIZE == 22
    assert protocol.decode_header(data) == (header, body)
    assert protocol.peek_version(data) == protocol.VERSION


@ROUND
@given(headers(), st.integers(min_value=protocol.MAX_DATAGRAM - protocol.HEADER_SIZE + 1,
                             max_value=2 * protocol.MAX_DATAGRAM), u8)
def test_header_refuses_an_oversized_datagram(header: Header, size: int, fill: int) -> None:
    data = protocol.encode_header(header.type) + bytes([fill]) * size
    if header.type == protocol.FILE:            # FILE datagrams may be larger (F.1)...
        assert protocol.decode_header(data)[0].type == protocol.FILE
        data += bytes(protocol.MAX_FILE_DATAGRAM)  # ... up to the largest UDP payload
    with pytest.raises(ProtocolError):
        protocol.decode_header(data)


@ROUND
@given(headers())
def test_header_cut_short_raises(header: Header) -> None:
    every_cut_raises(protocol.decode_header, protocol.encode_header(
        header.type, header.session, header.pkt, header.ack, header.sack, header.flags))


@pytest.mark.parametrize("index, value", [
    (0, ord("X")),                       # magic
    (1, ord("X")),
    (2, protocol.VERSION + 1),           # a version we do not speak
    (3, 0),                              # datagram type 0 ...
    (3, max(protocol.DATAGRAM_TYPES) + 1),   # ... and one past the last
])
def test_header_checks_magic_version_and_type(index: int, value: int) -> None:
    data = bytearray(protocol.encode_header(protocol.DATA, 1, 2, 3, 4))
    data[index] = value
    with pytest.raises(ProtocolError):
        protocol.decode_header(bytes(data))


@FUZZ
@given(junk)
def test_peek_version_never_raises(data: bytes) -> None:
    version = protocol.peek_version(data)
    if data[:2] == protocol.MAGIC and len(data) >= 4:
        assert version == data[2]
    else:
        assert version is None


# ---------------------------------------------------------------- handshake

hellos = st.builds(Hello, st.binary(min_size=8, max_size=8), st.binary(min_size=16, max_size=16),
                   st.binary(min_size=8, max_size=8), st.binary(min_size=16, max_size=16),
                   u32, u32, names)
welcomes = st.builds(Welcome, u32, u32, times, st.booleans(), u16, names, texts)


@ROUND
@given(hellos)
def test_hello_round_trip(hello: Hello) -> None:
    assert protocol.decode_hello(protocol.encode_hello(hello)) == hello


@ROUND
@given(st.binary(min_size=8, max_size=8), st.binary(min_size=16, max_size=16))
def test_challenge_round_trip(nonce: bytes, cookie: bytes) -> None:
    body = protocol.encode_challenge(nonce, cookie)
    assert len(body) == 24
    assert protocol.decode_challenge(body) == (nonce, cookie)


@ROUND
@given(welcomes)
def test_welcome_round_trip(welcome: Welcome) -> None:
    assert protocol.decode_welcome(protocol.encode_welcome(welcome)) == welcome


@ROUND
@given(u8, reasons)
def test_refuse_round_trip(code: int, reason: str) -> None:
    assert protocol.decode_refuse(protocol.encode_refuse(code, reason)) == Refuse(code, reason)


@ROUND
@given(u8, st.text(max_size=500), st.integers(min_value=-5, max_value=600))
def test_refuse_cut_to_a_limit_keeps_whole_characters(code: int, reason: str, limit: int) -> None:
    """To an unverified address the reason is cut to fit the HELLO's size: never
    mid-character, never past the limit or MAX_REASON_BYTES, always decodable."""
    body = protocol.encode_refuse(code, reason, limit)
    decoded = protocol.decode_refuse(body)
    raw = decoded.reason.encode("utf-8")
    assert decoded.code == code
    assert reason.startswith(decoded.reason)
    assert len(raw) <= max(0, min(limit, protocol.MAX_REASON_BYTES))
    assert len(body) == 3 + len(raw)


@ROUND
@given(u8, reasons)
def test_bye_round_trip(code: int, reason: str) -> None:
    assert protocol.decode_bye(protocol.encode_bye(code, reason)) == Refuse(code, reason)


@ROUND
@given(u8, reasons, st.integers(min_value=0, max_value=255),
       st.floats(min_value=0, max_value=1e12), reasons)
def test_a_coded_reason_round_trips_after_the_english_one(code: int, reason: str, why: int,
                                                          until: float, words: str) -> None:
    coded = protocol.Reason(why, until, words)
    for encode, decode in ((protocol.encode_refuse, protocol.decode_refuse),
                           (protocol.encode_bye, protocol.decode_bye)):
        body = encode(code, reason, coded=coded)
        assert decode(body) == Refuse(code, reason, coded)
        assert body.startswith(encode(code, reason))     # what an old client reads first


@pytest.mark.parametrize("tail", [b"\x01", b"\x01" + b"\0" * 7,
                                  b"\x01" + struct.pack("!d", float("nan")) + b"\0\0",
                                  b"\x01" + struct.pack("!d", -1.0) + b"\0\0",
                                  b"\x01" + b"\0" * 8 + b"\0\x05ab",
                                  b"\x01" + b"\0" * 8 + b"\0\0extra"])
def test_a_bad_coded_reason_is_a_protocol_error(tail: bytes) -> None:
    with pytest.raises(ProtocolError):
        protocol.decode_refuse(protocol.encode_refuse(3, "banned") + tail)


def test_an_empty_bye_is_leaving() -> None:
    assert protocol.decode_bye(b"") == Refuse(protocol.BYE_LEAVING, "")


@pytest.mark.parametrize("encode", [
    lambda name: protocol.encode_hello(Hello(b"\0" * 8, b"\0" * 16, b"\0" * 8, b"\0" * 16,
                                             0, 0, name)),
    lambda name: protocol.encode_welcome(Welcome(0, 0, 0.0, False, 0, name, "")),
])
def test_a_name_over_its_byte_limit_is_refused_by_the_encoder(encode) -> None:
    encode("字" * 21)                       # 63 bytes: fits
    with pytest.raises(ProtocolError):
        encode("字" * 22)                   # 66 bytes


def _str8(raw: bytes) -> bytes:
    return bytes([len(raw)]) + raw


def _str16(raw: bytes) -> bytes:
    return len(raw).to_bytes(2, "big") + raw


_HELLO_FIXED = protocol.HELLO_FIXED.pack(b"\0" * 8, b"\0" * 16, b"\0" * 8, b"\0" * 16, 1, 2)
_WELCOME_FIXED = protocol.WELCOME_FIXED.pack(1, 2, 3.0, 0, 4)
_EVENT_FIXED = protocol.EVENT_FIXED.pack(1, 2.0, protocol.EV_CHAT, 0, 0, 1, 0, 0)
NAME, MOTD, REASON = protocol.MAX_NAME_BYTES, protocol.MAX_TEXT_BYTES, protocol.MAX_REASON_BYTES
# (decoder, its string's limit, a body with that string n bytes long)
LIMITED = [
    ("hello name", protocol.decode_hello, NAME, lambda n: _HELLO_FIXED + _str8(b"a" * n)),
    ("welcome name", protocol.decode_welcome, NAME,
     lambda n: _WELCOME_FIXED + _str8(b"a" * n) + _str16(b"")),
    ("welcome motd", protocol.decode_welcome, MOTD,
     lambda n: _WELCOME_FIXED + _str8(b"") + _str16(b"m" * n)),
    ("refuse reason", protocol.decode_refuse, REASON, lambda n: b"\x01" + _str16(b"r" * n)),
    ("event name", protocol.decode_event, NAME,
     lambda n: _EVENT_FIXED + _str8(b"a" * n) + _str8(b"")),
    ("event target", protocol.decode_event, NAME,
     lambda n: _EVENT_FIXED + _str8(b"") + _str8(b"a" * n)),
    ("private target", lambda body: protocol.decode_said(protocol.PRIVATE, body), NAME,
     lambda n: protocol.MSG_ID.pack(1) + _str8(b"a" * n) + b"hi"),
]


@pytest.mark.parametrize("decode, limit, body", [(d, lim, b) for _, d, lim, b in LIMITED],
                         ids=[n for n, _, _, _ in LIMITED])
def test_a_string_over_its_limit_is_refused_by_the_decoder(decode, limit: int, body) -> None:
    """The limits of PROTOCOL.md 2.4 hold on the way in, not only on the way out."""
    decode(body(limit))
    with pytest.raises(ProtocolError):
        decode(body(limit + 1))


# ---------------------------------------------------------------- messages

@st.composite
def saids(draw) -> Said:
    kind = draw(st.sampled_from([protocol.SAY, protocol.EMOTE, protocol.PRIVATE]))
    target = draw(names) if kind == protocol.PRIVATE else ""
    return Said(kind, draw(u32), draw(texts), target)


events = st.builds(Event, u32, times, u8, u8, u8, u16, u64, u32, names, names, texts)


@ROUND
@given(saids())
def test_said_round_trip(said: Said) -> None:
    assert protocol.decode_said(said.kind, protocol.encode_said(said)) == said


def test_said_text_over_the_limit_is_refused_both_ways() -> None:
    long = Said(protocol.SAY, 1, "x" * (protocol.MAX_TEXT_BYTES + 1))
    with pytest.raises(ProtocolError):
        protocol.encode_said(long)
    body = protocol.MSG_ID.pack(1) + b"x" * (protocol.MAX_TEXT_BYTES + 1)
    with pytest.raises(ProtocolError):
        protocol.decode_said(protocol.SAY, body)


@pytest.mark.parametrize("kind", [0, protocol.WHO, protocol.EVENT, protocol.EVENTS, 255])
def test_decode_said_refuses_other_kinds(kind: int) -> None:
    with pytest.raises(ProtocolError):
        protocol.decode_said(kind, protocol.encode_said(Said(protocol.SAY, 1, "hi")))


@ROUND
@given(events)
def test_event_round_trip(event: Event) -> None:
    assert protocol.decode_event(protocol.encode_event(event)) == event


def test_an_event_with_a_nan_time_is_refused() -> None:
    body = protocol.encode_event(Event(1, float("nan"), protocol.EV_CHAT, name="a", text="b"))
    with pytest.raises(ProtocolError):
        protocol.decode_event(body)


def test_event_text_over_the_limit_is_refused_both_ways() -> None:
    with pytest.raises(ProtocolError):
        protocol.encode_event(Event(1, 0.0, protocol.EV_CHAT,
                                    text="x" * (protocol.MAX_TEXT_BYTES + 1)))
    body = protocol.encode_event(Event(1, 0.0, protocol.EV_CHAT)) + b"x" * (
        protocol.MAX_TEXT_BYTES + 1)
    with pytest.raises(ProtocolError):
        protocol.decode_event(body)


# ---------------------------------------------------------------- frames

frames = st.lists(st.builds(Frame, st.integers(min_value=1, max_value=0xFFFFFFFF), u8,
                            st.binary(max_size=300)), max_size=6)


@ROUND
@given(frames)
def test_frames_round_trip(items: List[Frame]) -> None:
    body = b"".join(protocol.encode_frame(*frame) for frame in items)
    assert protocol.decode_frames(body) == items


@ROUND
@given(frames.filter(bool))
def test_frames_cut_inside_a_frame_raise(items: List[Frame]) -> None:
    body = b"".join(protocol.encode_frame(*frame) for frame in items)
    boundaries, pos = {0}, 0
    for frame in items:
        pos += protocol.FRAME.size + len(frame.body)
        boundaries.add(pos)
    for size in range(len(body)):
        if size in boundaries:
            assert protocol.decode_frames(body[:size]) == items[:sorted(boundaries).index(size)]
        else:
            with pytest.raises(ProtocolError):
                protocol.decode_frames(body[:size])


def test_a_frame_numbered_zero_is_refused() -> None:
    with pytest.raises(ProtocolError):
        protocol.decode_frames(protocol.encode_frame(0, protocol.SAY, b"x"))


@ROUND
@given(st.integers(min_value=0, max_value=protocol.PAYLOAD_ROOM),
       st.binary(max_size=protocol.PAYLOAD_ROOM))
def test_frame_fits_means_the_datagram_stays_within_its_limit(used: int, body: bytes) -> None:
    fits = protocol.frame_fits(used, body)
    # RESERVED: a RECORD's header and tag (secure rooms), or --insecure's tag, still fit.
    total = protocol.HEADER_SIZE + used + len(protocol.encode_frame(1, 1, body)) + protocol.RESERVED
    assert fits == (total <= protocol.MAX_DATAGRAM)


# ---------------------------------------------------------------- event batches

event_bodies = st.lists(st.binary(min_size=1, max_size=protocol.BATCH_ROOM - protocol.BATCH_LEN.size),
                        max_size=12)


@ROUND
@given(event_bodies)
def test_event_batches_round_trip_and_each_fits_one_frame(bodies: List[bytes]) -> None:
    batches = protocol.pack_event_batches(bodies)
    assert sum(count for _, count in batches) == len(bodies)
    again: List[bytes] = []
    for body, count in batches:
        assert len(body) <= protocol.BATCH_ROOM
        assert protocol.frame_fits(0, body)
        parts = protocol.split_event_batch(body)
        assert len(parts) == count >= 1
        again += parts
    assert again == bodies


@ROUND
@given(st.lists(events, min_size=1, max_size=8))
def test_batched_events_decode_to_the_events(items: List[Event]) -> None:
    bodies = [protocol.encode_event(event) for event in items]
    decoded = [protocol.decode_event(part)
               for body, _ in protocol.pack_event_batches(bodies)
               for part in protocol.split_event_batch(body)]
    assert decoded == items


def test_an_empty_event_in_a_batch_is_refused() -> None:
    with pytest.raises(ProtocolError):
        protocol.split_event_batch(protocol.BATCH_LEN.pack(0))


# ---------------------------------------------------------------- room stream

@ROUND
@given(u32, u32, st.binary(max_size=protocol.PAYLOAD_ROOM))
def test_a_room_datagram_is_a_room_header_and_its_batch(session: int, number: int,
                                                         batch: bytes) -> None:
    data = protocol.room_datagram(session.to_bytes(4, "big"), protocol.room_tail(number, batch))
    assert protocol.decode_header(data) == (Header(protocol.ROOM, 0, session, number, 0, 0), batch)
    assert protocol.ROOM_FIELDS.unpack_from(data, 6) == (session, number, 0, 0)


@ROUND
@given(u32, u32, st.lists(st.binary(min_size=1, max_size=200), min_size=2, max_size=6))
def test_a_room_run_round_trip(session: int, first: int, bodies: List[bytes]) -> None:
    tail = protocol.room_tail(first, b"".join(protocol.room_run_part(b) for b in bodies))
    data = protocol.ROOM_RUN_PREFIX + session.to_bytes(4, "big") + tail
    header, body = protocol.decode_header(data)
    assert header == Header(protocol.ROOM, protocol.FLAG_ROOM_RUN, session, first, 0, 0)
    assert protocol.split_room_run(body) == bodies


@pytest.mark.parametrize("count", [0, 1])
def test_a_room_run_of_fewer_than_two_is_refused(count: int) -> None:
    body = b"".join(protocol.room_run_part(b"event") for _ in range(count))
    with pytest.raises(ProtocolError):
        protocol.split_room_run(body)


@ROUND
@given(u32, u32, u32, u32, u32, u32)
def test_a_bare_room_ack_is_recognised_and_read_in_one_step(session: int, pkt: int, ack: int,
                                                            sack: int, room_ack: int,
                                                            room_sack: int) -> None:
    data = (protocol.encode_header(protocol.DATA, session, pkt, ack, sack, protocol.FLAG_ROOM_ACK)
            + protocol.ROOM_ACK.pack(room_ack, room_sack))
    assert protocol.is_bare_room_ack(data)
    assert protocol.BARE_ROOM_ACK_FIELDS.unpack_from(data, 6) == (
        session, pkt, ack, sack, room_ack, room_sack)
    # Anything more (a frame) or anything else (another type, no flag) is not one.
    assert not protocol.is_bare_room_ack(data + protocol.encode_frame(1, protocol.SAY, b""))
    assert not protocol.is_bare_room_ack(data[:-1])
    other = protocol.encode_header(protocol.PING, session, pkt, ack, sack, protocol.FLAG_ROOM_ACK)
    assert not protocol.is_bare_room_ack(other + protocol.ROOM_ACK.pack(room_ack, room_sack))
    plain = protocol.encode_header(protocol.DATA, session, pkt, ack, sack)
    assert not protocol.is_bare_room_ack(plain + protocol.ROOM_ACK.pack(room_ack, room_sack))


@ROUND
@given(st.binary(min_size=16, max_size=16))
def test_instance_of_is_eight_bytes_of_sha256(token: bytes) -> None:
    import hashlib
    assert protocol.instance_of(token) == hashlib.sha256(token).digest()[:8]


# ---------------------------------------------------------------- hostile input

def _said_any_kind(data: bytes) -> object:
    kind = data[0] if data else protocol.SAY
    return protocol.decode_said(kind, data[1:])


DECODERS: List[Tuple[str, Callable[[bytes], object]]] = [
    ("header", protocol.decode_header),
    ("frames", protocol.decode_frames),
    ("hello", protocol.decode_hello),
    ("challenge", protocol.decode_challenge),
    ("welcome", protocol.decode_welcome),
    ("refuse", protocol.decode_refuse),
    ("bye", protocol.decode_bye),
    ("said", _said_any_kind),
    ("say", lambda data: protocol.decode_said(protocol.SAY, data)),
    ("private", lambda data: protocol.decode_said(protocol.PRIVATE, data)),
    ("event", protocol.decode_event),
    ("event batch", protocol.split_event_batch),
    ("room run", protocol.split_room_run),
]


@pytest.mark.parametrize("decode", [d for _, d in DECODERS], ids=[n for n, _ in DECODERS])
@FUZZ
@given(data=junk)
def test_random_bytes_raise_only_protocol_error(decode, data: bytes) -> None:
    only_protocol_errors(decode, data)


@pytest.mark.parametrize("decode", [d for _, d in DECODERS], ids=[n for n, _ in DECODERS])
@FUZZ
@given(data=st.binary(min_size=1, max_size=40), prefix=st.sampled_from([
    protocol.MAGIC + bytes([protocol.VERSION, protocol.DATA]),
    protocol.ROOM_PREFIX, protocol.BARE_ROOM_ACK_PREFIX, b"\0" * 8, b"\xff" * 8]))
def test_near_valid_bytes_raise_only_protocol_error(decode, data: bytes, prefix: bytes) -> None:
    """Random bytes rarely get past the first check; these start like the real thing."""
    only_protocol_errors(decode, prefix + data)


def _encodings(draw) -> Tuple[Callable[[bytes], object], bytes]:
    """A valid encoding of some payload, and its decoder."""
    choice = draw(st.sampled_from(["hello", "challenge", "welcome", "refuse", "bye", "said",
                                   "event", "frames", "batch", "run"]))
    if choice == "hello":
        return protocol.decode_hello, protocol.encode_hello(draw(hellos))
    if choice == "challenge":
        return protocol.decode_challenge, protocol.encode_challenge(
            draw(st.binary(min_size=8, max_size=8)), draw(st.binary(min_size=16, max_size=16)))
    if choice == "welcome":
        return protocol.decode_welcome, protocol.encode_welcome(draw(welcomes))
    if choice == "refuse":
        return protocol.decode_refuse, protocol.encode_refuse(draw(u8), draw(reasons))
    if choice == "bye":
        return protocol.decode_bye, protocol.encode_bye(draw(u8), draw(reasons))
    if choice == "said":
        said = draw(saids())
        return (lambda data: protocol.decode_said(said.kind, data)), protocol.encode_said(said)
    if choice == "event":
        return protocol.decode_event, protocol.encode_event(draw(events))
    if choice == "frames":
        return protocol.decode_frames, b"".join(
            protocol.encode_frame(*frame) for frame in draw(frames))
    bodies = [protocol.encode_event(e) for e in draw(st.lists(events, min_size=2, max_size=3))]
    if choice == "batch":
        return protocol.split_event_batch, protocol.pack_event_batches(bodies)[0][0]
    return protocol.split_room_run, b"".join(protocol.room_run_part(b) for b in bodies)


@FUZZ
@given(st.data())
def test_valid_encodings_cut_short_or_changed_or_extended_raise_only_protocol_error(data) -> None:
    decode, encoded = _encodings(data.draw)
    decode(encoded)                                   # the untouched one decodes
    cut = data.draw(st.integers(min_value=0, max_value=len(encoded)))
    only_protocol_errors(decode, encoded[:cut])
    only_protocol_errors(decode, encoded + data.draw(st.binary(min_size=1, max_size=64)))
    if encoded:
        changed = bytearray(encoded)
        for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
            changed[data.draw(st.integers(min_value=0, max_value=len(changed) - 1))] = data.draw(u8)
        only_protocol_errors(decode, bytes(changed))


# Decoders of a payload whose end is known from its own fields: every cut and
# every added byte is an error (said and event end in free text, frames and
# batches in a list: a cut there can still be a valid, shorter payload).
EXACT = [
    ("hello", lambda d: protocol.encode_hello(d(hellos)), protocol.decode_hello),
    ("challenge", lambda d: protocol.encode_challenge(d(st.binary(min_size=8, max_size=8)),
                                                      d(st.binary(min_size=16, max_size=16))),
     protocol.decode_challenge),
    ("welcome", lambda d: protocol.encode_welcome(d(welcomes)), protocol.decode_welcome),
    ("refuse", lambda d: protocol.encode_refuse(d(u8), d(reasons)), protocol.decode_refuse),
    ("bye", lambda d: protocol.encode_bye(d(u8), d(reasons)), protocol.decode_bye),
]


@pytest.mark.parametrize("encode, decode", [(e, d) for _, e, d in EXACT],
                         ids=[n for n, _, _ in EXACT])
@ROUND
@given(data=st.data(), extra=st.binary(min_size=1, max_size=64))
def test_exact_payloads_cut_short_or_with_trailing_bytes_raise(encode, decode, data,
                                                               extra: bytes) -> None:
    encoded = encode(data.draw)
    cut = data.draw(st.integers(min_value=1 if decode is protocol.decode_bye else 0,
                                max_value=len(encoded) - 1))
    with pytest.raises(ProtocolError):
        decode(encoded[:cut])
    with pytest.raises(ProtocolError):
        decode(encoded + extra)


@ROUND
@given(events)
def test_an_event_cut_before_its_text_raises(event: Event) -> None:
    encoded = protocol.encode_event(event)
    text_at = len(encoded) - len(event.text.encode("utf-8"))
    every_cut_raises(protocol.decode_event, encoded[:text_at])
    # Cut inside the text: a shorter text, or (mid-character) an error.
    for size in range(text_at, len(encoded)):
        try:
            shorter = protocol.decode_event(encoded[:size])
        except ProtocolError:
            continue
        assert shorter == event._replace(text=shorter.text)
        assert event.text.startswith(shorter.text)


@ROUND
@given(saids())
def test_a_said_cut_before_its_text_raises(said: Said) -> None:
    encoded = protocol.encode_said(said)
    text_at = len(encoded) - len(said.text.encode("utf-8"))
    for size in range(text_at):
        with pytest.raises(ProtocolError):
            protocol.decode_said(said.kind, encoded[:size])


@ROUND
@given(saids(), st.one_of(st.text(min_size=1, max_size=20).map(lambda t: t.encode("utf-8")),
                          st.binary(min_size=1, max_size=40)))
def test_bytes_after_a_said_are_its_text_or_an_error(said: Said, extra: bytes) -> None:
    """A chat line is the rest of its frame: added bytes join the text if they
    are UTF-8 and fit, and are an error otherwise, never a crash."""
    body = protocol.encode_said(said) + extra
    try:
        fits = len((said.text.encode("utf-8") + extra).decode("utf-8").encode("utf-8")) <= \
            protocol.MAX_TEXT_BYTES
    except UnicodeDecodeError:
        fits = False
    if fits:
        assert protocol.decode_said(said.kind, body).text == said.text + extra.decode("utf-8")
    else:
        with pytest.raises(ProtocolError):
            protocol.decode_said(said.kind, body)
