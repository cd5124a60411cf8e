"""How long joining takes through a lossy link: the built chat.pyz as a
headless server on 127.0.0.1, line-mode clients that join one after another,
each through its own relay that loses and duplicates datagrams both ways
(tests/udprelay.py, seeded 0, 1, ... so a run can be repeated).

    python3 -m bench.lossy_joins [--joins 30] [--loss 0.2] [--dup 0.05] [--pyz chat.pyz]

Prints the median and the slowest joins, and the joins that did not happen
(the client gives up after its 10 s connect time-out). docs/PERFORMANCE.md
"Joins under loss".
"""
import argparse
import os
import pathlib
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.chatproc import free_udp_port, start_client, start_server  # noqa: E402
from tests.udprelay import LossyRelay  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--joins", type=int, default=30)
    parser.add_argument("--loss", type=float, default=0.2)
    parser.add_argument("--dup", type=float, default=0.05)
    parser.add_argument("--pyz", default=str(ROOT / "chat.pyz"))
    args = parser.parse_args(argv)
    pyz = os.path.abspath(args.pyz)
    times, failed = [], []
    with tempfile.TemporaryDirectory() as name:
        tmp = pathlib.Path(name)
        port = free_udp_port()
        server = start_server(pyz, port, tmp, "--max-per-ip", str(args.joins + 10))
        try:
            for seed in range(args.joins):
                relay = LossyRelay(port, loss=args.loss, dup=args.dup, max_delay=0.03, seed=seed)
                began = time.monotonic()
                try:
                    client = start_client(pyz, relay.port, "u%d" % seed, tmp, join_timeout=30)
                    times.append(time.monotonic() - began)
                    client.stop()
                except BaseException:      # pytest.fail's Failed: no join line in time
                    failed.append(seed)
                finally:
                    relay.stop()
        finally:
            server.stop()
    times.sort()
    print("%d joins through %.0f %% loss, %.0f %% duplication: %d joined, median %.2f s, "
          "slowest %s s; not joined (seeds): %s" % (
              args.joins, args.loss * 100, args.dup * 100, len(times),
              times[len(times) // 2] if times else float("nan"),
              ", ".join("%.1f" % t for t in times[-3:]), failed or "none"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
