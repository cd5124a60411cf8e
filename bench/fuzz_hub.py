"""Coverage-guided fuzzing (atheris) of the decoders and the server's datagram
handler. Run on demand (docs/SECURITY.md has the command and the results):

    python3 -m venv /tmp/fuzz && /tmp/fuzz/bin/pip install atheris
    /tmp/fuzz/bin/python bench/fuzz_hub.py -atheris_runs=1000000

Each input is split into datagrams; they go to one Hub (with a joined member,
so session paths are reachable) from a few source addresses, and to a
ClientCore, plus every decoder alone. Any exception escaping is a bug: atheris
stops and prints the input. A seed corpus of well-formed datagrams is built in.
"""
import os
import sys

import atheris

with atheris.instrument_imports():
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    from app.core import protocol as P
    from app.core.auth import RoomKey
    from app.core.client_core import ClientCore
    from app.core.hub import Hub, HubConfig

NOW = 1_700_000_000.0
KEY = RoomKey(b"k" * 32)


def fresh_hub(room_key=None):
    hub = Hub(NOW, b"s" * 32, HubConfig(), room_key=room_key)
    client = ClientCore("member", NOW, room_key=room_key)
    client.tick(NOW)
    for _ in range(4):                      # HELLO, CHALLENGE, HELLO, WELCOME
        for data in client.take_output():
            hub.on_datagram(NOW, data, ("10.0.0.2", 5000))
        for data, _ in hub.take_output():
            client.on_datagram(NOW, data)
        hub.tick(NOW)
    return hub, client


HUBS = [fresh_hub(), fresh_hub(KEY)]
ADDRS = [("10.0.0.2", 5000), ("10.0.0.3", 6000), ("::ffff:10.0.0.4", 7000)]


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    for hub, client in HUBS:
        session = next(iter(hub.by_addr.values()), None)
        for _ in range(fdp.ConsumeIntInRange(1, 4)):
            datagram = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 1300))
            shape = fdp.ConsumeIntInRange(0, 3)
            if session is not None and shape == 1:
                # A valid header for the member's session: reach the frame parsers.
                datagram = P.encode_header(P.DATA, session.id, fdp.ConsumeIntInRange(1, 99),
                                           0, 0) + datagram
            elif session is not None and shape == 2:
                # A bare room ack of the member's: the hub's short path.
                datagram = (P.BARE_ROOM_ACK_PREFIX + session.id.to_bytes(4, "big")
                            + datagram[:16].ljust(16, b"\0"))
            elif shape == 3:
                # A ROOM run for the client's session: the run parser.
                datagram = (P.ROOM_RUN_PREFIX + client.session_id.to_bytes(4, "big")
                            + P.ROOM_TAIL.pack(fdp.ConsumeIntInRange(0, 9), 0, 0) + datagram)
            if hub.room_key is not None and fdp.ConsumeBool():
                datagram = KEY.seal(datagram) if len(datagram) >= P.HEADER_SIZE else datagram
            addr = ADDRS[fdp.ConsumeIntInRange(0, len(ADDRS) - 1)]
            size = len(datagram)
            hub.on_datagram(NOW, datagram, addr)
            for reply, to in hub.take_output():
                if to != ADDRS[0]:
                    assert len(reply) <= size, "amplification"
            client.on_datagram(NOW, datagram)
        hub.tick(NOW + 0.5)
        hub.take_output()
        hub.take_log()
        client.take_events()
        client.take_output()
    for decode in (P.decode_hello, P.decode_welcome, P.decode_refuse, P.decode_event,
                   P.decode_frames, P.decode_challenge, P.decode_header):
        try:
            decode(data)
        except P.ProtocolError:
            pass
    try:
        P.decode_said(P.SAY + data[0] % 3 if data else P.SAY, data[1:])
    except P.ProtocolError:
        pass


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
