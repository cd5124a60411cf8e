"""Load generator: N simulated clients against one server, in a few processes.

    python3 -m bench.loadgen KIND N [--mode closed|rate|join] [--seconds S] ...

The coordinator (run_load) starts the server, splits the clients over worker
processes (each one epoll loop over its clients' sockets, see swarms.py),
starts everyone at one instant and reads the server's CPU time and peak RSS
from /proc. Every delivery is counted at its receiving client; each chat text
carries its sender, a per-sender sequence number and the send time, so a
worker counts losses (gaps never filled), duplicates and reorderings, and the
latency of every delivery (time.monotonic() is one clock machine-wide).

Modes:
  closed  saturation: S senders keep at most W messages each "in flight", a
          message being done when the sender's worker's probe client (which
          does not send) received it. Deliveries/s and deliveries per server
          CPU-second are counted over the measuring window.
  rate    every client sends Poisson traffic at RATE messages/s: latency.
  join    no traffic: how long until every client is in the room.
A restart ("kill" or "term") replaces the server mid-window on the same port.

A worker's stdout carries one JSON object per line to the coordinator.
"""
import argparse
import heapq
import json
import math
import os
import random
import select
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import procs, pyspy  # noqa: E402

TEXT_SIZE = 48                  # bytes of chat text in every message
BUCKETS_PER_E = 50              # latency histogram: 2 % wide buckets
JOIN_BATCH = 100                # naive clients logged in per 20 ms (no acks to wait for)


# ====================================================================== worker

class Worker:
    def __init__(self, cfg: dict) -> None:
        if cfg.get("app_root"):
            sys.path.insert(0, cfg["app_root"])
        from bench import swarms

        self.cfg = cfg
        self.ids = list(range(*cfg["ids"]))
        self.local = {g: i for i, g in enumerate(self.ids)}
        extra = {"probe_every": cfg["probe_every"],
                 "lean": cfg.get("lean_sinks", False)} if cfg.get("probe_every", 1) > 1 else {}
        if cfg["kind"] == "ours":
            extra["secure"] = cfg.get("secure", False)
        self.swarm = swarms.SWARMS[cfg["kind"]](cfg["port"], self.ids, **extra)
        self.senders = [self.local[g] for g in cfg["senders"]]
        self.probe = self.local.get(cfg.get("probe"), -1)
        self.rng = random.Random(cfg.get("seed", 1))
        self.seq = [0] * len(self.ids)
        self.last = [[0] * cfg["n"] for _ in self.ids]     # receiver -> sender -> seq
        self.missing = set()                                  # (receiver, sender, seq)
        self.outstanding = {i: 0 for i in self.senders}
        self.got = self.got_window = self.dups = self.late = self.held = 0
        self.sent = 0
        self.send_lag = 0.0
        self.hist: Dict[int, int] = {}          # latency until the worker handled it
        self.arrival_hist: Dict[int, int] = {}  # latency until it reached the socket
        self.t0 = self.t1 = math.inf
        self.sending = False
        self.epoll = select.epoll()           # straight epoll: selectors' keys cost per event
        self.client_of_fd: Dict[int, int] = {}

    # ------------------------------------------------------------ io

    def emit(self, **fields) -> None:
        sys.stdout.write(json.dumps(fields) + "\n")
        sys.stdout.flush()

    def loop_until(self, stop, deadline: float, next_send=lambda: math.inf) -> None:
        """Serve sockets, timers and sends until stop() or the deadline."""
        swarm = self.swarm
        while not stop():
            now = time.monotonic()
            if now >= deadline:
                return
            wake = min(deadline, swarm.next_timer(), next_send(), now + 0.05)
            for fd, _ in self.epoll.poll(max(0.0, wake - now)):
                i = self.client_of_fd[fd]
                now = time.monotonic()
                got = swarm.readable(i, now)
                if isinstance(got, int):         # a sink: how many, not what
                    self.on_count(got, now)
                    continue
                for text, arrived in got:
                    self.on_text(i, text, now, arrived)
            now = time.monotonic()
            swarm.run_timers(now)
            if self.sending:
                self.send_due(now)

    def read_line(self) -> dict:
        """The coordinator's next message; the clients are served meanwhile."""
        self.loop_until(lambda: bool(select.select([sys.stdin], [], [], 0)[0]),
                        time.monotonic() + 600)
        return json.loads(sys.stdin.readline())

    # ------------------------------------------------------------ joining

    def join(self) -> None:
        cfg = self.cfg
        start_at = cfg["start_at"]
        time.sleep(max(0.0, start_at - time.monotonic()))
        self.swarm.start(time.monotonic())
        for sock, i in self.swarm.sockets():
            self.epoll.register(sock.fileno(), select.EPOLLIN)
            self.client_of_fd[sock.fileno()] = i
        n = len(self.ids)
        if cfg["kind"] == "naive":
            while self.swarm.logged_in < n:
                self.swarm.login_some(JOIN_BATCH)
                time.sleep(0.02)
        joined_at = [None] * n

        def all_joined() -> bool:
            now = time.monotonic()
            for i in range(n):
                if joined_at[i] is None and self.swarm.joined(i):
                    joined_at[i] = now
            return all(t is not None for t in joined_at)

        self.loop_until(all_joined, start_at + cfg.get("join_timeout", 30.0))
        done = [t for t in joined_at if t is not None]
        self.emit(event="ready", joined=len(done), last_join=max(done) if done else None)

    # ------------------------------------------------------------ traffic

    def text(self, i: int, now: float) -> str:
        self.seq[i] += 1
        head = "%d %d %.6f " % (self.ids[i], self.seq[i], now)
        return head + "x" * max(0, TEXT_SIZE - len(head))

    def send(self, i: int, now: float) -> None:
        if not self.swarm.can_send(i):
            self.held += 1                   # flow control holds this sender back
        # Stamped as it goes out, not with the loop's `now`: the worker may have
        # spent milliseconds since on other clients' timers and sends, and that
        # is the generator's delay, not the server's.
        now = time.monotonic()
        self.swarm.send(i, self.text(i, now), now)
        self.sent += 1

    def send_due(self, now: float) -> None:
        if now >= self.t1:
            self.sending = False
            return
        if self.cfg["mode"] == "closed":
            return                           # sends happen in on_text
        while self.rate_heap and self.rate_heap[0][0] <= now:
            due, i = heapq.heappop(self.rate_heap)
            self.send_lag = max(self.send_lag, now - due)   # > 0: this process is behind
            self.send(i, now)
            heapq.heappush(self.rate_heap, (now + self.rng.expovariate(self.cfg["rate"]), i))

    def top_up(self, i: int, now: float) -> None:
        window = self.cfg["window"]
        while self.outstanding[i] < window and self.swarm.can_send(i):
            self.outstanding[i] += 1
            self.send(i, now)

    def on_text(self, r: int, text: str, now: float, arrived: float) -> None:
        fields = text.split(" ", 3)
        sender, seq, sent_at = int(fields[0]), int(fields[1]), float(fields[2])
        if sender == self.ids[r]:
            return                           # our own line echoed back: no delivery
        last = self.last[r]
        previous = last[sender]
        if seq > previous:
            for hole in range(previous + 1, seq):
                self.missing.add((r, sender, hole))
            last[sender] = seq
        elif (r, sender, seq) in self.missing:
            self.missing.discard((r, sender, seq))
            self.late += 1
        else:
            self.dups += 1
            return
        self.got += 1
        if self.t0 <= now <= self.t1:
            self.got_window += 1
        if sent_at >= self.t0:
            count_latency(self.hist, now - sent_at)
            count_latency(self.arrival_hist, arrived - sent_at)
        if r == self.probe and self.sending and self.cfg["mode"] == "closed":
            i = self.local.get(sender)
            if i is not None and i in self.outstanding:
                self.outstanding[i] -= 1
                self.top_up(i, now)

    def on_count(self, count: int, now: float) -> None:
        """Deliveries to a sink (swarms.py): counted, not timed."""
        self.got += count
        if self.t0 <= now <= self.t1:
            self.got_window += count

    def run(self) -> None:
        self.join()
        go = self.read_line()
        self.t0, self.t1 = go["t0"], go["t1"]
        self.rate_heap = []
        if self.cfg["mode"] == "rate":
            self.rate_heap = [(self.t0 + self.rng.expovariate(self.cfg["rate"]), i)
                              for i in self.senders]
            heapq.heapify(self.rate_heap)
        self.loop_until(lambda: True, self.t0)
        cpu0 = sum(os.times()[:2])
        self.sending = self.cfg["mode"] != "join"
        if self.cfg["mode"] == "closed":
            for i in self.senders:
                self.top_up(i, time.monotonic())
        self.loop_until(lambda: False, self.t1,
                        lambda: self.rate_heap[0][0] if self.rate_heap else math.inf)
        self.sending = False
        gen_cpu = sum(os.times()[:2]) - cpu0
        self.emit(event="sent", sent=self.sent)
        expect = self.read_line()
        quiet = [time.monotonic()]
        lossy = self.cfg["kind"] != "ours"
        got = [self.got]

        def finished() -> bool:
            now = time.monotonic()
            if self.got != got[0]:
                got[0], quiet[0] = self.got, now
            return self.got >= expect["expect"] or (lossy and now - quiet[0] > 0.5)

        self.loop_until(finished, expect["until"])
        rejoined = [self.swarm.rejoined_at(i) for i in range(len(self.ids))]
        states = self.swarm.states() if hasattr(self.swarm, "states") else {}
        self.emit(event="done", got=self.got, got_window=self.got_window, dups=self.dups,
                  late=self.late, held=self.held, hist=self.hist,
                  arrival_hist=self.arrival_hist, gen_cpu=gen_cpu,
                  send_lag=self.send_lag,
                  rejoined=[t for t in rejoined if t is not None], states=states)
        self.swarm.close()


# ================================================================= coordinator

def _read_event(proc: subprocess.Popen, name: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, left))
        if not ready:
            raise TimeoutError("worker %d: no %r within %.0f s" % (proc.pid, name, timeout))
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("worker %d ended before %r" % (proc.pid, name))
        message = json.loads(line)
        if message.get("event") == name:
            return message


def _tell(proc: subprocess.Popen, **fields) -> None:
    proc.stdin.write(json.dumps(fields) + "\n")
    proc.stdin.flush()


def count_latency(hist: Dict[int, int], seconds: float) -> None:
    bucket = int(math.log(max(seconds, 1e-6) * 1e6) * BUCKETS_PER_E)
    hist[bucket] = hist.get(bucket, 0) + 1


def percentile(hist: Dict[int, int], fraction: float) -> Optional[float]:
    """The `fraction` quantile of a latency histogram, in milliseconds."""
    total = sum(hist.values())
    if not total:
        return None
    rank = fraction * total
    seen = 0
    for bucket in sorted(hist):
        seen += hist[bucket]
        if seen >= rank:
            return math.exp((bucket + 0.5) / BUCKETS_PER_E) / 1e3
    return None


def merged(done: List[dict], key: str) -> Dict[int, int]:
    """The workers' histograms `key` (JSON made their buckets strings) added up."""
    total: Dict[int, int] = {}
    for d in done:
        for bucket, count in d[key].items():
            total[int(bucket)] = total.get(int(bucket), 0) + count
    return total


def split(n: int, parts: int) -> List[range]:
    bounds = [n * k // parts for k in range(parts + 1)]
    return [range(bounds[k], bounds[k + 1]) for k in range(parts)]


def run_load(kind: str, n: int, mode: str = "closed", *, seconds: float = 5.0,
             senders: int = 10, window: int = 8, rate: float = 1.0, workers: int = 1,
             restart: str = "", restart_after: float = 2.0, drain: float = 15.0,
             join_timeout: float = 30.0, app_root=procs.ROOT, profile: str = "",
             relaxed: bool = False, cpu_cap: float = 0.0, probe_every: int = 1,
             lean_sinks: bool = False, pin: bool = False, insecure: bool = False) -> dict:
    """Run one measurement; returns a dict of numbers (see the keys at the end).
    probe_every > 1 (UDP servers, rate mode): only every probe_every-th client
    decodes and times what it gets; the others are sinks (swarms.py), for ours
    lean ones with lean_sinks. pin: the server on a core of its own, the
    generator on the rest (procs.pin_generator). insecure (ours): the server
    and the clients run --insecure, protocol version 1 in clear; without it
    they run secure sessions where the app at app_root has them."""
    if probe_every > 1 and (kind == "irc" or mode != "rate"):
        raise ValueError("sinks are for the UDP servers in rate mode")
    home = tempfile.mkdtemp(prefix="bench-home-")     # keys: server's and clients'
    server = procs.Server(kind, app_root=app_root, relaxed=relaxed, cpu_cap=cpu_cap,
                          insecure=insecure, home=home).start()
    if cpu_cap and restart:
        raise ValueError("a CPU cap and a restart do not go together")
    procs_ = []
    spy = None
    try:
        groups = split(n, workers)
        probes = [g[0] for g in groups]
        if mode == "closed":
            # non-probe clients, taken round-robin over the workers
            pool = [g[k] for k in range(1, max(map(len, groups))) for g in groups if k < len(g)]
            chosen = set(pool[:senders])
        elif mode == "rate":
            chosen = set(range(n))
        else:
            chosen = set()
        start_at = time.monotonic() + 0.3 + 0.1 * workers
        env = dict(os.environ, PYTHONHASHSEED="0", **procs.private_dirs(home))
        for k, group in enumerate(groups):
            cfg = {"kind": kind, "port": server.port, "ids": [group.start, group.stop],
                   "n": n, "senders": sorted(g for g in chosen if g in group),
                   "probe": probes[k], "mode": mode, "window": window, "rate": rate,
                   "seed": k + 1, "start_at": start_at, "join_timeout": join_timeout,
                   "app_root": str(app_root), "probe_every": probe_every,
                   "lean_sinks": lean_sinks, "secure": server.secure}
            procs_.append(subprocess.Popen(
                [sys.executable, str(procs.ROOT / "bench" / "loadgen.py"), "--worker",
                 json.dumps(cfg)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                text=True, env=env, cwd=str(procs.ROOT)))
        if pin:
            server.pin()
            for p in procs_:
                procs.pin_generator(p.pid)
        u_join = server.usage()
        spy = pyspy.record(server.pid, 600, profile) if profile and mode == "join" else None
        ready = [_read_event(p, "ready", join_timeout + 30) for p in procs_]
        if cpu_cap:
            server.settle()              # the join storm's events, passed on uncapped
            server.cap_cpu()
        u_ready = server.usage()
        if mode == "join":
            pyspy.finish(spy)
        joined = sum(r["joined"] for r in ready)
        last_join = max((r["last_join"] or math.inf) for r in ready)
        t0 = time.monotonic() + 0.3
        t1 = t0 + seconds
        for p in procs_:
            _tell(p, t0=t0, t1=t1)
        time.sleep(max(0.0, t0 - time.monotonic()))
        u0 = server.usage()
        drops0 = procs.udp_rcvbuf_errors()
        if profile and mode != "join":
            spy = pyspy.record(server.pid, 600, profile)
        restarted_at = None
        if restart:
            time.sleep(min(restart_after, seconds))
            if restart == "kill":
                server.crash()
            else:
                server.stop()
            server = procs.Server(kind, port=server.port, app_root=app_root,
                                  relaxed=relaxed, cpu_cap=cpu_cap, insecure=insecure,
                                  home=home).start()
            if pin:
                server.pin()
            restarted_at = time.monotonic()
        time.sleep(max(0.0, t1 - time.monotonic()))
        u1 = server.usage()
        udp_drops = procs.udp_rcvbuf_errors() - drops0
        if mode != "join":
            pyspy.finish(spy)
        sent_by = [_read_event(p, "sent", seconds + 30)["sent"] for p in procs_]
        total_sent = sum(sent_by)
        until = time.monotonic() + drain
        for p, group, mine in zip(procs_, groups, sent_by):
            _tell(p, expect=total_sent * len(group) - mine, until=until)
        done = [_read_event(p, "done", drain + 60) for p in procs_]
        u_end = server.usage()
    finally:
        if spy is not None and spy.poll() is None:
            pyspy.finish(spy)
        for p in procs_:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                procs.stop_pids([p.pid])
        server.stop()
        shutil.rmtree(home, ignore_errors=True)
    hist, arrival_hist = merged(done, "hist"), merged(done, "arrival_hist")
    expected = total_sent * (n - 1)
    got = sum(d["got"] for d in done)
    got_window = sum(d["got_window"] for d in done)
    cpu = u1["cpu"] - u0["cpu"] if not restart else None
    rejoined = [t for d in done for t in d["rejoined"]]
    states: Dict[str, int] = {}
    for d in done:
        for state, count in d["states"].items():
            states[state] = states.get(state, 0) + count
    return {
        "kind": kind, "secure": server.secure, "n": n, "mode": mode, "seconds": seconds,
        "workers": workers,
        "pinned": pin, "probe_every": probe_every,
        "senders": len(chosen), "window": window, "rate": rate,
        "joined": joined, "join_s": last_join - start_at if joined == n else None,
        "join_cpu": u_ready["cpu"] - u_join["cpu"],
        "sent": total_sent, "expected": expected, "got": got,
        "loss_pct": 100.0 * (expected - got) / expected if expected else 0.0,
        "dups": sum(d["dups"] for d in done), "late": sum(d["late"] for d in done),
        "held": sum(d["held"] for d in done),
        "deliveries_per_s": got_window / seconds,
        "server_cpu": cpu,
        "per_cpu_s": got_window / cpu if cpu else None,
        "server_cpu_pct": 100.0 * cpu / seconds if cpu is not None else None,
        "gen_cpu_pct": 100.0 * sum(d["gen_cpu"] for d in done) / seconds,
        "gen_send_lag_ms": 1e3 * max(d["send_lag"] for d in done),
        "udp_rcvbuf_drops": udp_drops,
        "hwm_mib": u_end["hwm_mib"], "main_hwm_mib": u_end["main_hwm_mib"],
        "p50_ms": percentile(hist, 0.50), "p99_ms": percentile(hist, 0.99),
        "max_ms": percentile(hist, 1.0),
        "arrival_p50_ms": percentile(arrival_hist, 0.50),
        "arrival_p99_ms": percentile(arrival_hist, 0.99),
        "rejoined": len(rejoined),
        "rejoin_s": (max(rejoined) - restarted_at) if rejoined and restarted_at else None,
        "states": states,
    }


def main(argv=None) -> int:
    if argv is None and len(sys.argv) > 2 and sys.argv[1] == "--worker":
        Worker(json.loads(sys.argv[2])).run()
        return 0
    parser = argparse.ArgumentParser(description="one load-generator run; prints JSON")
    parser.add_argument("kind", choices=procs.KINDS)
    parser.add_argument("n", type=int)
    parser.add_argument("--mode", choices=("closed", "rate", "join"), default="closed")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--senders", type=int, default=10)
    parser.add_argument("--window", type=int, default=8)
    parser.add_argument("--rate", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--restart", choices=("", "kill", "term"), default="")
    parser.add_argument("--restart-after", type=float, default=2.0)
    parser.add_argument("--app-root", default=str(procs.ROOT),
                        help="the checkout whose app/ is measured (server and clients)")
    parser.add_argument("--relaxed", action="store_true",
                        help="ours: per-person rate limit off (bench/relaxed_server.py)")
    parser.add_argument("--cpu-cap", type=float, default=0.0, metavar="SHARE",
                        help="cap the server at SHARE of one core (e.g. 0.05), so that "
                             "it saturates at a load the generator can offer")
    parser.add_argument("--probe-every", type=int, default=1, metavar="K",
                        help="rate mode, UDP servers: only every K-th client decodes and "
                             "times its deliveries, the rest (ack and) count (a lighter "
                             "generator)")
    parser.add_argument("--lean-sinks", action="store_true",
                        help="with --probe-every: sinks take in-order ROOM datagrams "
                             "in a few steps of their own (swarms.py)")
    parser.add_argument("--pin", action="store_true",
                        help="the server on CPU 0 alone, the generator on the others")
    parser.add_argument("--insecure", action="store_true",
                        help="ours: server and clients with --insecure (protocol version 1, "
                             "in clear); default: secure sessions where the app has them")
    parser.add_argument("--profile", default="", metavar="FILE",
                        help="sample the server with py-spy over the window into FILE")
    args = parser.parse_args(argv)
    result = run_load(args.kind, args.n, args.mode, seconds=args.seconds,
                      senders=args.senders, window=args.window, rate=args.rate,
                      workers=args.workers, restart=args.restart,
                      restart_after=args.restart_after, app_root=args.app_root,
                      profile=args.profile, relaxed=args.relaxed, cpu_cap=args.cpu_cap,
                      probe_every=args.probe_every, lean_sinks=args.lean_sinks,
                      pin=args.pin, insecure=args.insecure)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
