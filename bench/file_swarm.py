"""Files with many people at once (issue 19 item 5), the built chat.pyz on
127.0.0.1 with secure sessions, line-mode clients as separate processes.

    python3 -m bench.file_swarm latency [--clients 5] [--mb 20] [--rounds 3] [--quiet 4]
    python3 -m bench.file_swarm handout [--clients 30] [--mb 20]
    python3 -m bench.file_swarm hand-ins [--clients 30] [--mb 10]

latency   `--quiet` members (4) take turns saying a timestamped line, each
          every 250 ms (under the 5/s rate limit), so a line goes every 62 ms;
          another member prints them; the bench reads both ends' pipes, so the
          figure includes two pipe hops and two process wake-ups. First with no
          transfer, then while `--rounds` handouts of `--mb` MB go to every
          member (the quiet ones included) one after the other. Received copies
          are kept, as a class's would be: over many rounds they make the
          kernel throttle the receivers' writes (dirty pages), which a chat
          line must not wait for.
handout   one `/send` of `--mb` MB to `--clients` members, timed until every
          client has printed its `收到文件:` line; then the same bytes copied
          to a loopback TCP reader `--clients` times one after the other
          (socket.sendfile into a Python reader writing a file), the floor a
          person compares with.
hand-ins  `--clients` members each `/hand-in` their own `--mb` MB file at the
          same moment; timed until every receipt (`作业已提交`) is printed.

The machine is shared and noisy: compare ratios within one run.
"""
import argparse
import os
import pathlib
import subprocess
import sys
import tempfile
import time
from typing import List, Tuple

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.file_copy import tcp_copy  # noqa: E402
from tests import chatproc  # noqa: E402
from tests.chatproc import free_udp_port, start_server  # noqa: E402

PING_EVERY = 0.25


class TimedProc(chatproc.Proc):
    """A Proc whose lines are stamped with the monotonic time they were read."""

    def _read(self):
        for raw in self.popen.stdout:
            self.lines.put((time.monotonic(), raw.decode("utf-8", "replace").rstrip("\n")))

    def drain(self) -> List[Tuple[float, str]]:
        got = []
        while not self.lines.empty():
            got.append(self.lines.get_nowait())
        return got


PROCS: List[chatproc.Proc] = []       # every process started: stopped at the end


def client(pyz: str, port: int, name: str, tmp: pathlib.Path) -> TimedProc:
    proc = TimedProc([pyz, "client", "--plain", "--name", name, "--port", str(port),
                      "--downloads", str(tmp / ("dl-" + name)), chatproc.HOST],
                     subprocess.PIPE, str(tmp / ("c-%s.err" % name)))
    PROCS.append(proc)
    wait_for(proc, lambda line: line == name + " 进入了聊天室", 60)
    return proc


def wait_for(proc: TimedProc, predicate, timeout: float) -> float:
    """The time the first line satisfying predicate was read."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for at, line in proc.drain():
            if predicate(line):
                return at
        time.sleep(0.01)
    raise SystemExit("no matching line within %.0f s (%s)" % (timeout, proc.log_path))


def percentile(values: List[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def summary(latencies: List[float]) -> str:
    if not latencies:
        return "no lines arrived!"
    ms = [v * 1000 for v in latencies]
    return "n=%d p50 %.1f ms  p99 %.1f ms  max %.1f ms" % (
        len(ms), percentile(ms, 0.5), percentile(ms, 0.99), max(ms))


def pings(quiet: List[TimedProc], listener: TimedProc, until, limit: float) -> List[float]:
    """Lines from the `quiet` members in turn, each every PING_EVERY (their
    rate limit), until `until()`; their latencies at `listener`."""
    sent = {}
    got: List[float] = []
    n = 0
    deadline = time.monotonic() + limit

    def read() -> None:
        for at, line in listener.drain():
            if " : ping " in line:
                got.append(at - sent[int(line.rsplit(" ", 1)[1])])
    while not until() and time.monotonic() < deadline:
        sent[n] = time.monotonic()
        quiet[n % len(quiet)].send("ping %d" % n)
        n += 1
        end = time.monotonic() + PING_EVERY / len(quiet)
        while time.monotonic() < end:
            read()
            time.sleep(0.002)
    time.sleep(0.5)
    read()
    return got


def run_latency(pyz, port, tmp, server, args) -> None:
    quiet = [client(pyz, port, "quiet%d" % i, tmp) for i in range(args.quiet)]
    listener = client(pyz, port, "listener", tmp)
    others = [client(pyz, port, "m%d" % i, tmp) for i in range(args.clients)]
    start = time.monotonic()
    print("no transfer:      ", summary(pings(quiet, listener,
                                              lambda: time.monotonic() - start > 5, 10)))
    everyone = others + quiet + [listener]
    latencies: List[float] = []
    total = 0.0
    for r in range(args.rounds):
        src = tmp / ("round%d.bin" % r)
        src.write_bytes(os.urandom(args.mb * 1000 * 1000))
        done = set()

        def finished() -> bool:
            for proc in others:               # (the quiet ones' lines are read by pings)
                if proc not in done and any(l.startswith("收到文件") for _, l in proc.drain()):
                    done.add(proc)
            return len(done) == len(others)
        began = time.monotonic()
        server.send("/send " + str(src))
        latencies += pings(quiet, listener, finished, 600)
        total += time.monotonic() - began
    print("during %d handouts of %d MB to %d members (%.1f s in all): %s" % (
        args.rounds, args.mb, len(everyone), total, summary(latencies)))


def run_handout(pyz, port, tmp, server, args) -> None:
    clients = [client(pyz, port, "s%d" % i, tmp) for i in range(args.clients)]
    src = tmp / "handout.bin"
    src.write_bytes(os.urandom(args.mb * 1000 * 1000))
    began = time.monotonic()
    server.send("/send " + str(src))
    last = max(wait_for(c, lambda line: line.startswith("收到文件"), 1200) for c in clients)
    udp = last - began
    tcp = sum(tcp_copy(src, tmp / "tcp.bin") for _ in range(args.clients))
    print("%d MB to %d clients: handout %.2f s; %d TCP copies one after another %.2f s; "
          "handout / TCP = %.2f (target <= 2)" % (args.mb, args.clients, udp, args.clients,
                                                  tcp, udp / tcp))


def run_hand_ins(pyz, port, tmp, server, args) -> None:
    clients = [client(pyz, port, "h%d" % i, tmp) for i in range(args.clients)]
    files = []
    for i in range(args.clients):
        path = tmp / ("homework%d.bin" % i)
        path.write_bytes(os.urandom(args.mb * 1000 * 1000))
        files.append(path)
    began = time.monotonic()
    for proc, path in zip(clients, files):
        proc.send("/hand-in " + str(path))
    last = max(wait_for(c, lambda line: line.startswith("作业已提交"), 1200) for c in clients)
    stored = [p for p in (tmp / "state" / "submissions").rglob("*") if p.is_file()]
    print("%d hand-ins of %d MB at once: all stored in %.2f s (%d files under submissions, "
          "%.1f MB/s in all)" % (args.clients, args.mb, last - began, len(stored),
                                 args.clients * args.mb / (last - began)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=("latency", "handout", "hand-ins"))
    parser.add_argument("--clients", type=int)
    parser.add_argument("--mb", type=int)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quiet", type=int, default=4,
                        help="latency: members who take turns saying a line")
    parser.add_argument("--pyz", default=str(ROOT / "chat.pyz"))
    args = parser.parse_args()
    defaults = {"latency": (5, 20), "handout": (30, 20), "hand-ins": (30, 10)}[args.what]
    args.clients = args.clients or defaults[0]
    args.mb = args.mb or defaults[1]
    pyz = os.path.abspath(args.pyz)
    with tempfile.TemporaryDirectory() as name:
        tmp = pathlib.Path(name)
        port = free_udp_port()
        server = start_server(pyz, port, tmp, "--state", str(tmp / "state"),
                              "--max-clients", "200", "--max-per-ip", "200",
                              stdin=subprocess.PIPE)
        PROCS.append(server)
        try:
            {"latency": run_latency, "handout": run_handout,
             "hand-ins": run_hand_ins}[args.what](pyz, port, tmp, server, args)
        finally:
            for proc in reversed(PROCS):
                proc.stop()


if __name__ == "__main__":
    main()
