"""Run every benchmark and print Markdown tables (docs/PERFORMANCE.md has them).

    python3 -m bench.run_all            full runs (about 25 minutes on 2 cores)
    python3 -m bench.run_all --quick    seconds per run, tiny N: a smoke test
    python3 -m bench.run_all --also /tmp/perfcopy   adds "ours+fix": the app/ of
                                        another checkout (e.g. with build/perf-*.diff)
    python3 -m bench.run_all --only saturation,latency
    python3 -m bench.run_all --insecure adds "ours-insecure": this checkout with
                                        --insecure on both sides (protocol 1)

Raw numbers go to build/bench-results.json as well.
"""
import argparse
import json
import os
import platform
import sys
import time

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import idle_startup, procs  # noqa: E402
from bench.loadgen import run_load  # noqa: E402

SECTIONS = ("saturation", "capped", "latency", "join", "restart", "idle", "startup")

FULL = {"sat_n": (10, 100, 500, 1000), "sat_seconds": 5.0, "window": 16, "cap": 0.05,
        "latency": ((100, 0.5), (1000, 0.05), (1000, 0.1)), "lat_seconds": 10.0,
        "join_n": 1000, "restart_n": 500, "restart_rate": 0.05, "restart_seconds": 12.0,
        "idle_seconds": 60.0, "startup_runs": 20}
QUICK = {"sat_n": (10, 40), "sat_seconds": 1.0, "window": 8, "cap": 0.2,
         "latency": ((20, 0.5),), "lat_seconds": 2.0,
         "join_n": 100, "restart_n": 20, "restart_rate": 0.5, "restart_seconds": 5.0,
         "idle_seconds": 3.0, "startup_runs": 3}


def fmt(value, digits: int = 0) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return "{:,.{}f}".format(value, digits)
    return "{:,}".format(value)


def table(headers, rows) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def machine() -> str:
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return "%d cores (nproc), %s, Python %s, Linux %s, ngircd %s" % (
        os.cpu_count(), model, platform.python_version(), platform.release(),
        "yes" if procs.ngircd_path() else "not installed")


class Runner:
    def __init__(self, cfg: dict, kinds: list, roots: dict) -> None:
        self.cfg = cfg
        self.kinds = kinds          # labels: ours, ours+fix, naive, irc
        self.roots = roots          # label -> app root
        self.results: list = []

    def load(self, label: str, n: int, mode: str, **kw) -> dict:
        kind = "ours" if label.startswith("ours") else label
        kw.setdefault("workers", 2 if n >= 500 else 1)
        kw.setdefault("insecure", label == "ours-insecure")
        print("  %s N=%d %s ..." % (label, n, mode), file=sys.stderr, flush=True)
        try:
            result = run_load(kind, n, mode, app_root=self.roots.get(label, procs.ROOT),
                              join_timeout=120.0 if kind == "irc" else 30.0, **kw)
        except Exception as exc:                      # one failed run is a row, not the end
            result = {"kind": kind, "n": n, "mode": mode, "error": str(exc)}
        result["label"] = label
        self.results.append(result)
        return result

    def saturation(self, cpu_cap: float = 0.0) -> str:
        rows = []
        for n in self.cfg["sat_n"]:
            for label in self.kinds:
                r = self.load(label, n, "closed", seconds=self.cfg["sat_seconds"],
                              senders=10, window=self.cfg["window"],
                              relaxed=label.startswith("ours"), cpu_cap=cpu_cap)
                rows.append(self._row(label, n, r, [
                    fmt(r.get("deliveries_per_s")), fmt(r.get("per_cpu_s")),
                    fmt(r.get("server_cpu_pct")), fmt(r.get("gen_cpu_pct")),
                    fmt(r.get("loss_pct"), 2), fmt(r.get("p50_ms"), 1),
                    fmt(r.get("p99_ms"), 1), fmt(r.get("hwm_mib"), 1)]))
        return table(["server", "N", "deliveries/s", "per server CPU-s", "server CPU %",
                      "generator CPU %", "loss %", "p50 ms", "p99 ms", "peak RSS MiB"], rows)

    def capped(self) -> str:
        """Saturation with the server held to a CPU share (a cgroup quota), so
        that the server, not the Python load generator, is the bottleneck."""
        return (self.saturation(cpu_cap=self.cfg["cap"]) +
                "\n\n(every server capped at %.0f %% of one core)" % (100 * self.cfg["cap"]))

    def latency(self) -> str:
        """Fixed load. Every server on a core of its own (loadgen --pin); from
        N = 500 on, the UDP servers' latency is sampled at every 10th client
        and the others are sinks (lean ones for ours), the same for both."""
        rows = []
        for n, rate in self.cfg["latency"]:
            for label in self.kinds:
                sinks = {} if n < 500 or label == "irc" else {
                    "probe_every": 10, "lean_sinks": label.startswith("ours")}
                r = self.load(label, n, "rate", seconds=self.cfg["lat_seconds"], rate=rate,
                              pin=True, **sinks)
                rows.append(self._row(label, n, r, [
                    fmt(rate, 2), fmt(r.get("arrival_p50_ms"), 2),
                    fmt(r.get("arrival_p99_ms"), 2), fmt(r.get("p50_ms"), 2),
                    fmt(r.get("p99_ms"), 2), fmt(r.get("loss_pct"), 2),
                    fmt(r.get("deliveries_per_s")), fmt(r.get("server_cpu_pct")),
                    fmt(r.get("gen_cpu_pct")), fmt(r.get("gen_send_lag_ms"))]))
        return table(["server", "N", "msg/s each", "at socket p50 ms", "at socket p99 ms",
                      "handled p50 ms", "handled p99 ms", "loss %", "deliveries/s",
                      "server CPU %", "generator CPU %", "generator behind ms"], rows) + (
            "\n\n(at socket: when the datagram reached the client's socket, stamped by "
            "the kernel; handled: when the load generator had read it. IRC is TCP: no "
            "stamp, both are the generator's.)")

    def join(self) -> str:
        rows = []
        n = self.cfg["join_n"]
        for label in self.kinds:
            if label == "naive":
                continue                                # no acks: nothing to wait for
            r = self.load(label, n, "join", seconds=0.5)
            rows.append(self._row(label, n, r, [
                "%d/%d" % (r.get("joined", 0), n), fmt(r.get("join_s"), 2),
                fmt(r.get("join_cpu"), 2), fmt(r.get("hwm_mib"), 1)]))
        return table(["server", "N", "joined", "all in after s", "server CPU s",
                      "peak RSS MiB"], rows)

    def restart(self) -> str:
        rows = []
        n = self.cfg["restart_n"]
        for label in [k for k in self.kinds if k.startswith("ours")]:
            for how in ("kill", "term"):
                r = self.load(label, n, "rate", seconds=self.cfg["restart_seconds"],
                              rate=self.cfg["restart_rate"], restart=how, restart_after=3.0)
                rows.append(self._row(label, n, r, [
                    how, "%d/%d" % (r.get("rejoined", 0), n), fmt(r.get("rejoin_s"), 2),
                    fmt(r.get("sent")), fmt(r.get("expected")),
                    fmt((r.get("expected") or 0) - (r.get("got") or 0)),
                    fmt(r.get("dups"))]))
        return table(["server", "N", "restart", "back", "all back after s", "messages",
                      "deliveries due", "deliveries lost", "duplicates"], rows)

    def idle(self) -> str:
        r = idle_startup.idle(self.cfg["idle_seconds"])
        self.results.append(dict(r, label="idle"))
        return table(["process", "CPU s per minute", "wake-ups per minute"], [
            ["server (network + admin)", fmt(r["server_cpu_per_min"], 3),
             fmt(r["server_wakeups_per_min"])],
            ["client --plain", fmt(r["client_cpu_per_min"], 3),
             fmt(r["client_wakeups_per_min"])]]) + "\n\n(measured over %.0f s)" % r["seconds"]

    def startup(self) -> str:
        r = idle_startup.startup(self.cfg["startup_runs"])
        self.results.append(dict(r, label="startup"))
        rows = [["first run (fresh SHIV_ROOT)", fmt(r["first_ms"], 1), "", ""]]
        for label in ("path", "direct"):
            x = r[label]
            rows.append(["later runs, python3 via %s" % ("PATH (shebang)" if label == "path"
                                                          else "its own path"),
                         fmt(x["pyz_ms"], 1), fmt(x["python_ms"], 1), fmt(x["ratio"], 2)])
        rows.append(["python3 -S -c pass", "", fmt(r["python_S_ms"], 1), ""])
        return table(["chat.pyz --version", "ms", "python3 -c pass ms", "ratio"], rows) + \
            "\n\n(min of %d interleaved runs)" % r["runs"]

    @staticmethod
    def _row(label, n, r, cells):
        if "error" in r:
            return [label, str(n), "error: " + r["error"][:80]] + [""] * (len(cells) - 1)
        return [label, str(n)] + cells


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--also", metavar="ROOT", help="a checkout measured as ours+fix")
    parser.add_argument("--only", default=",".join(SECTIONS))
    parser.add_argument("--no-irc", action="store_true")
    parser.add_argument("--insecure", action="store_true",
                        help="also run this checkout with --insecure (as ours-insecure)")
    parser.add_argument("--json", default=str(procs.ROOT / "build" / "bench-results.json"))
    args = parser.parse_args(argv)
    cfg = QUICK if args.quick else FULL
    kinds, roots = ["ours"], {"ours": procs.ROOT}
    if args.insecure:
        kinds.append("ours-insecure")
    if args.also:
        kinds.append("ours+fix")
        roots["ours+fix"] = os.path.abspath(args.also)
    kinds.append("naive")
    if procs.ngircd_path() and not args.no_irc:
        kinds.append("irc")
    runner = Runner(cfg, kinds, roots)
    started = time.time()
    print("# chat.pyz benchmarks (%s)\n\n%s\n" % ("quick" if args.quick else "full", machine()))
    for section in args.only.split(","):
        print("## %s\n" % section, flush=True)
        print(getattr(runner, section)() + "\n", flush=True)
    print("(%.0f s in all)" % (time.time() - started))
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump({"machine": machine(), "quick": args.quick, "results": runner.results},
                  f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
