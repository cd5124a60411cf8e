"""The course's naive UDP chat server: the baseline to beat.

One blocking recvfrom loop, a dict {name: addr}, text commands:
    L name          log in (no reply)
    C name text     chat: "name : text" is forwarded to everyone else
    Q name          log out
No acks, no retransmission, no flow control: a datagram lost anywhere is gone.

    python3 bench/naive_server.py --port P [--bind 127.0.0.1] [--rcvbuf BYTES]

--rcvbuf 0 (the default) keeps the kernel's default receive buffer, as the
course's server does.
"""
import argparse
import signal
import socket
import sys


def serve(sock: socket.socket) -> None:
    users = {}                                  # name -> (host, port)
    while True:
        data, addr = sock.recvfrom(2048)
        cmd, _, rest = data.partition(b" ")
        if cmd == b"C":
            name, _, text = rest.partition(b" ")
            line = name + b" : " + text
            for other, where in users.items():
                if other != name:
                    sock.sendto(line, where)
        elif cmd == b"L":
            users[rest] = addr
        elif cmd == b"Q":
            users.pop(rest, None)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bind", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rcvbuf", type=int, default=0)
    args = parser.parse_args(argv)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if args.rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, args.rcvbuf)
    sock.bind((args.bind, args.port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        serve(sock)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
