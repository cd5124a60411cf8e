"""The door: a second socket on the server's port for the datagrams that open a
session, so that a flood of them cannot crowd the members out of the kernel.

Why. A flood of INITs from forged source addresses passes every per-host budget
(each address is new), and before this the server read every datagram of it
from the one socket the members use: at ~200 000 a second its loop was busy
reading and dropping INITs, and the socket's buffer, full of them, dropped the
members' records as often as the flood's. The INIT budgets (PROTOCOL.md S.9)
bound the public-key work, not the reading.

How. Two UDP sockets bound to the same address and port with SO_REUSEPORT form
one reuseport group; a classic BPF program attached to the group
(SO_ATTACH_REUSEPORT_CBPF, Linux 4.5+) returns which of them gets each
datagram. It looks at the first 4 bytes of the UDP payload: a version-2 INIT
(`CZ` 02 21), a version-1 HELLO (`CZ` 01 01) and a LAN discovery probe (`czd?`)
go to the door (index 1); everything else — records, handshake finishes, files,
version-1 session traffic, anything shorter than 4 bytes — to the members'
socket (index 0). The server reads the members' socket whenever it has
something, and the door at most DOOR_RATE datagrams a second (app/net/server.py):
past that the door's own buffer fills and the kernel drops the flood before the
server spends anything on it. A newcomer's INIT during a flood of F a second is
read with probability DOOR_RATE / F and then answered as the INIT budgets say —
the same odds as before (the server's INIT budget, 5000 a second, was already
the narrower gate) — while members see no flood at all.

The kernel picks the socket; nothing here is trusted for security: a datagram
that reaches the wrong socket is handled the same way (both are read by the
one loop and go through the same checks). Where the kernel cannot (not Linux,
an old kernel, a seccomp filter), the server keeps its one socket, as before.

Port ownership. SO_REUSEPORT lets another socket of the same user join the
group, so the pair is bound only after the ordinary bind (open_socket, without
the option) has proved the port free; a second chat.pyz on the port still gets
"port in use" from that ordinary bind, because a socket without the option
cannot join a group.
"""
import ctypes
import socket
import struct
import sys
from typing import Optional, Tuple

SO_ATTACH_REUSEPORT_CBPF = getattr(socket, "SO_ATTACH_REUSEPORT_CBPF", 51)   # Linux
MEMBERS, DOOR = 0, 1              # the sockets' places in the reuseport group (bind order)

# What the door takes: the first 4 bytes of the UDP payload, big-endian.
DOOR_PREFIXES = (
    0x435A0221,      # b"CZ\x02\x21": a version-2 INIT (PROTOCOL.md S.3)
    0x435A0101,      # b"CZ\x01\x01": a version-1 HELLO (section 2)
    0x637A643F,      # b"czd?": a LAN discovery probe (section 2.7)
)

# Classic BPF (linux/filter.h): struct sock_filter {u16 code; u8 jt; u8 jf; u32 k}.
BPF_LD_W_ABS = 0x20               # BPF_LD | BPF_W | BPF_ABS: A = payload[k:k+4], big-endian
BPF_JEQ_K = 0x15                  # BPF_JMP | BPF_JEQ | BPF_K: if A == k skip jt, else jf
BPF_RET_K = 0x06                  # BPF_RET | BPF_K: return k (the socket's index)


def steering_program() -> bytes:
    """The program: load the first word (a datagram shorter than 4 bytes ends the
    program with 0: the members' socket), compare with each door prefix."""
    count = len(DOOR_PREFIXES)
    code = [(BPF_LD_W_ABS, 0, 0, 0)]
    for i, prefix in enumerate(DOOR_PREFIXES):
        # Jump over the remaining compares and the `return MEMBERS` to `return DOOR`.
        code.append((BPF_JEQ_K, count - i, 0, prefix))
    code += [(BPF_RET_K, 0, 0, MEMBERS), (BPF_RET_K, 0, 0, DOOR)]
    return b"".join(struct.pack("=HBBI", *op) for op in code)


def split(sock: socket.socket) -> Tuple[socket.socket, Optional[socket.socket]]:
    """(members' socket, door) bound where `sock` is, or (sock, None) where the
    kernel cannot steer. `sock` has proved the port free; it is closed when the
    pair replaces it."""
    if not sys.platform.startswith("linux") or not hasattr(socket, "SO_REUSEPORT"):
        return sock, None
    family, address = sock.family, sock.getsockname()
    dual_stack = family == socket.AF_INET6 and \
        not sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY)
    program = ctypes.create_string_buffer(steering_program())
    fprog = struct.pack("HP", len(program.raw) // 8, ctypes.addressof(program))
    pair = []
    try:
        first = _reusable(family, dual_stack)
        pair.append(first)
        first.setsockopt(socket.SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, fprog)
        sock.close()                   # the port is ours: now the pair takes it
        first.bind(address)
        door = _reusable(family, dual_stack)
        pair.append(door)
        door.bind(address)
    except OSError:
        for made in pair:
            made.close()
        if sock.fileno() == -1:        # closed, and the port lost in between: rare
            raise
        return sock, None
    return first, door


def _reusable(family: int, dual_stack: bool) -> socket.socket:
    made = socket.socket(family, socket.SOCK_DGRAM)
    try:
        if dual_stack:
            made.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        made.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    except OSError:
        made.close()
        raise
    return made
