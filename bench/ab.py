"""A/B: the same load against several checkouts' app/, interleaved, medians.

    python3 -m bench.ab ROOT_A ROOT_B ... [--n 100] [--rounds 3] [--mode closed] [--naive]
                        [--insecure-too] [--baseline LABEL]

On a shared, noisy machine one run of each says little: this runs A, B, ...,
A, B, ... `rounds` times and prints the median of each number, as a Markdown
table. Used for the before/after numbers of build/perf-*.diff. `--naive` adds
the naive course server as one more contestant of every round, and each row's
deliveries per server CPU-second as a ratio to its median.

Our app runs as the product does: secure sessions (protocol version 2) where
the checkout has them, version 1 where it is older than issue 16.
`--insecure-too` adds, for every checkout with secure sessions, one more
contestant "ROOT --insecure" (server and clients with --insecure). Each row
shows the server's CPU microseconds per delivery, and with `--baseline LABEL`
(a row's label, e.g. the older checkout) that cost as a ratio to the baseline's.
"""
import argparse
import os
import statistics
import sys

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import procs  # noqa: E402
from bench.loadgen import run_load  # noqa: E402
from bench.run_all import fmt, table  # noqa: E402

INSECURE = "--insecure"
KEYS = ("deliveries_per_s", "per_cpu_s", "server_cpu_pct", "gen_cpu_pct", "loss_pct",
        "p50_ms", "p99_ms", "arrival_p50_ms", "arrival_p99_ms", "hwm_mib", "join_s",
        "join_cpu")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("roots", nargs="+")
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mode", default="closed")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--window", type=int, default=16)
    parser.add_argument("--rate", type=float, default=0.1)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--cpu-cap", type=float, default=0.0, metavar="SHARE",
                        help="cap the server at SHARE of one core (see loadgen --cpu-cap)")
    parser.add_argument("--probe-every", type=int, default=1, metavar="K",
                        help="rate mode: sinks but every K-th client (loadgen)")
    parser.add_argument("--lean-sinks", action="store_true",
                        help="with --probe-every: lean sinks (swarms.py)")
    parser.add_argument("--pin", action="store_true",
                        help="the server on CPU 0 alone, the generator on the others")
    parser.add_argument("--naive", action="store_true",
                        help="also run the naive server each round; print ratios to it")
    parser.add_argument("--stock", action="store_true",
                        help="keep the per-person rate limit (default: relaxed_server.py)")
    parser.add_argument("--insecure-too", action="store_true",
                        help="also run each checkout that has secure sessions with --insecure")
    parser.add_argument("--baseline", metavar="LABEL", default="",
                        help="print each row's server CPU per delivery as a ratio to this row's")
    parser.add_argument("--per-round", metavar="KEY,KEY", default="",
                        help="also print these numbers of every round as it ends "
                             "(e.g. arrival_p99_ms,server_cpu_pct): medians hide the spread")
    args = parser.parse_args(argv)
    per_round = [key for key in args.per_round.split(",") if key]
    contestants = []                              # (kind, label, root, insecure)
    for root in args.roots:
        contestants.append(("ours", root, root, False))
        if args.insecure_too and procs.app_is_secure(root):
            contestants.append(("ours", root + " " + INSECURE, root, True))
    if args.naive:
        contestants.append(("naive", "naive", str(procs.ROOT), False))
    runs = {label: [] for _, label, _, _ in contestants}
    for _ in range(args.rounds):
        for kind, label, root, insecure in contestants:
            runs[label].append(run_load(kind, args.n, args.mode, seconds=args.seconds,
                                        window=args.window, rate=args.rate,
                                        workers=args.workers, app_root=root,
                                        relaxed=not args.stock, cpu_cap=args.cpu_cap,
                                        probe_every=args.probe_every,
                                        lean_sinks=args.lean_sinks, pin=args.pin,
                                        insecure=insecure))
            if per_round:
                result = runs[label][-1]
                print("round %d %s: %s" % (len(runs[label]), label, ", ".join(
                    "%s %s" % (key, fmt(result.get(key), 2)) for key in per_round)),
                      flush=True)
    medians = {label: {key: _median(results, key) for key in KEYS}
               for label, results in runs.items()}
    keys = list(KEYS) + ["µs CPU/delivery"] + (["× naive"] if args.naive else []) + (
        ["cost × " + args.baseline] if args.baseline else [])
    rows = []
    for label, values in medians.items():
        cells = [fmt(values[key], 2) if values[key] is not None else "–" for key in KEYS]
        mine = values["per_cpu_s"]
        cells.append(fmt(1e6 / mine, 2) if mine else "–")
        if args.naive:
            base = medians["naive"]["per_cpu_s"]
            cells.append(fmt(mine / base, 2) if base and mine else "–")
        if args.baseline:
            base = medians.get(args.baseline, {}).get("per_cpu_s")
            cells.append(fmt(base / mine, 2) if base and mine else "–")
        rows.append([label] + cells)
    print("N=%d, mode %s, server CPU cap %s%s, median of %d interleaved rounds\n"
          % (args.n, args.mode, args.cpu_cap or "none", ", pinned" if args.pin else "",
             args.rounds))
    print(table(["server"] + keys, rows))
    return 0


def _median(results, key):
    values = [r[key] for r in results if r.get(key) is not None]
    return statistics.median(values) if values else None


if __name__ == "__main__":
    sys.exit(main())
