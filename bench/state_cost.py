"""What writing the room's log to SQLite costs (app/net/state_db.py), alone.

    python3 -m bench.state_cost [--commits 2000] [--dir DIR]

One transaction per server loop wake-up holds however many log entries that
wake-up made: this times StateDB.record for batches of 1, 10 and 100 entries,
with synchronous=NORMAL (what the server uses: a commit survives a killed
process) and FULL (an fsync per commit: survives a power cut too), in DIR (a
temporary directory by default: put it on the disk the server would use).
Prints microseconds per commit and per entry, wall clock, best of 3.
"""
import argparse
import os
import sys
import tempfile
import time

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from app.net.state_db import StateDB  # noqa: E402


def measure(directory: str, synchronous: str, batch: int, commits: int) -> float:
    db = StateDB.open(directory)
    db.conn.execute("PRAGMA synchronous=%s" % synchronous)
    entries = [(1.8e9 + i, "chat", "张三", "10.0.0.5:40000", "一句四十八个字节左右的中文聊天内容 hello")
               for i in range(batch)]
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(commits):
            db.record(entries)
        best = min(best, (time.perf_counter() - start) / commits)
    db.close()
    return best * 1e6


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=2000)
    parser.add_argument("--dir", default=None)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=args.dir) as directory:
        print("| synchronous | entries per commit | µs per commit | µs per entry |")
        print("|---|---|---|---|")
        for synchronous in ("NORMAL", "FULL"):
            for batch in (1, 10, 100):
                commits = args.commits if synchronous == "NORMAL" else args.commits // 4
                us = measure(directory, synchronous, batch, commits)
                print("| %s | %d | %.1f | %.2f |" % (synchronous, batch, us, us / batch))
    return 0


if __name__ == "__main__":
    sys.exit(main())
