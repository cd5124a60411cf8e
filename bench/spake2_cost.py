"""What the room password's PAKE costs: SPAKE2 (app/net/spake2.py) per join.

    python3 -m bench.spake2_cost [--joins 1000] [--repeat 5]

Server side (role B) per join: a new Spake2 for the room's password (w and
w*M, w*N are computed once per process, as the server does), start() (pB)
and finish(pA) (Ke): one fixed-base and one variable-base P-256
multiplication. The client's messages are made beforehand and not timed.
Also timed: the client side (role A, start + finish) and the once-per-process
derivation of w (scrypt). Wall time with time.perf_counter; each figure is
the fastest of --repeat runs (as timeit does: slower runs measure the other
sessions on a shared machine, not the code). Prints JSON.
"""
import argparse
import json
import os
import platform
import sys
import time

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from app.net import spake2  # noqa: E402

PASSWORD = "三个 random words".encode()
SALT = os.urandom(16)


def best(runs: int, fn) -> float:
    """The fastest of `runs` calls of fn(), in seconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def measure(joins: int, repeat: int) -> dict:
    w_seconds = best(1, lambda: spake2.password_scalar(PASSWORD, SALT))   # first call: scrypt
    clients = [spake2.Spake2("A", PASSWORD, salt=SALT) for _ in range(joins)]
    client_messages = [client.start() for client in clients]
    spake2.Spake2("B", PASSWORD, salt=SALT).start()                        # w*M, w*N cached

    def server_joins() -> None:
        for message in client_messages:
            server = spake2.Spake2("B", PASSWORD, salt=SALT)
            server.start()
            server.finish(message)

    def client_joins() -> None:
        server_message = spake2.Spake2("B", PASSWORD, salt=SALT).start()
        for _ in range(joins):
            client = spake2.Spake2("A", PASSWORD, salt=SALT)
            client.start()
            client.finish(server_message)

    server = best(repeat, server_joins)
    client = best(repeat, client_joins)
    return {
        "joins": joins,
        "server_us_per_join": round(server / joins * 1e6, 1),
        "server_seconds_per_1000_joins": round(server / joins * 1000, 3),
        "client_us_per_join": round(client / joins * 1e6, 1),
        "w_derivation_ms_once_per_process": round(w_seconds * 1000, 1),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--joins", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(json.dumps(measure(args.joins, args.repeat)))


if __name__ == "__main__":
    main()
