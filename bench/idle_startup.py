"""Idle cost and start-up time.

    python3 -m bench.idle_startup idle [SECONDS] [--insecure] [--app-root DIR]
                                                     server + 1 line-mode client
    python3 -m bench.idle_startup startup [RUNS]     chat.pyz --version vs python3 -c pass

idle: CPU seconds and wake-ups (voluntary context switches) of the server (its
network process and admin side) and of one real `client --plain`, over
SECONDS of silence, scaled to one minute.
startup: wall time of `chat.pyz --version`: the first run with a fresh
SHIV_ROOT (it unpacks itself), then later runs (min of RUNS), against
`python3 -c pass` started the same way (through PATH, as the shebang does, and
with the interpreter's own path).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import procs  # noqa: E402


def idle(seconds: float = 60.0, app_root=procs.ROOT, insecure: bool = False) -> dict:
    """insecure: both sides --insecure (version 1); else secure sessions where
    the app at app_root has them (procs.Server)."""
    server = procs.Server("ours", app_root=app_root, insecure=insecure).start()
    client = None
    try:
        client = subprocess.Popen(
            [sys.executable, "-m", "app", "client", "--plain", "--name", "idle",
             "127.0.0.1", "--port", str(server.port)]
            + (["--insecure"] if server.insecure_flag else []),
            cwd=str(app_root), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, env=dict(os.environ, **procs.private_dirs(server.home)))
        deadline = time.monotonic() + 10
        log = os.path.join(server.tmp, "stdout")
        while time.monotonic() < deadline:
            with open(log) as f:
                said = f.read()               # (an older app's headless log, or ours)
                if " join idle " in said or "idle 进入了聊天室" in said:
                    break
            time.sleep(0.05)
        else:
            raise RuntimeError("the idle client did not join")
        time.sleep(1.0)                                  # let the join settle
        s0, c0 = server.usage(), procs.tree_usage(client.pid)
        time.sleep(seconds)
        s1, c1 = server.usage(), procs.tree_usage(client.pid)
    finally:
        if client is not None:
            procs.stop_pids([client.pid])
            client.wait()
        server.stop()
    per_min = 60.0 / seconds
    return {"seconds": seconds, "secure": server.secure,
            "server_cpu_per_min": (s1["cpu"] - s0["cpu"]) * per_min,
            "server_wakeups_per_min": (s1["wakeups"] - s0["wakeups"]) * per_min,
            "client_cpu_per_min": (c1["cpu"] - c0["cpu"]) * per_min,
            "client_wakeups_per_min": (c1["wakeups"] - c0["wakeups"]) * per_min}


def _wall(argv, env=None) -> float:
    # No timeout= here: with one, Popen.wait polls with sleeps of up to 50 ms,
    # which quantises the very times measured.
    start = time.perf_counter()
    code = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL).wait()
    elapsed = time.perf_counter() - start
    if code != 0:
        raise RuntimeError("%s exited with %d" % (" ".join(argv), code))
    return elapsed


def startup(runs: int = 10, pyz: str = str(procs.ROOT / "chat.pyz")) -> dict:
    """Two launchers: `python3` as found on PATH (what chat.pyz's shebang
    `/usr/bin/env python3` runs, a pyenv shim here) and the interpreter itself."""
    result = {"runs": runs}
    with tempfile.TemporaryDirectory(prefix="bench-shiv-") as shiv_root:
        env = dict(os.environ, SHIV_ROOT=shiv_root)
        result["first_ms"] = _wall([pyz, "--version"], env) * 1e3
        for label, python, launch in (("path", "python3", [pyz]),
                                      ("direct", sys.executable, [sys.executable, pyz])):
            pairs = [(_wall(launch + ["--version"], env), _wall([python, "-c", "pass"]))
                     for _ in range(runs)]            # interleaved: same noise for both
            pyz_s = min(p[0] for p in pairs)
            bare_s = min(p[1] for p in pairs)
            result[label] = {"pyz_ms": pyz_s * 1e3, "python_ms": bare_s * 1e3,
                             "ratio": pyz_s / bare_s}
    result["python_S_ms"] = min(_wall([sys.executable, "-S", "-c", "pass"])
                                for _ in range(runs)) * 1e3
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", nargs="?", choices=("idle", "startup"), default="startup")
    parser.add_argument("amount", nargs="?", type=float, help="idle: SECONDS; startup: RUNS")
    parser.add_argument("--app-root", default=str(procs.ROOT),
                        help="idle: the checkout whose app/ is measured")
    parser.add_argument("--insecure", action="store_true",
                        help="idle: both sides --insecure (protocol version 1)")
    args = parser.parse_args(argv)
    if args.what == "idle":
        result = idle(args.amount or 60.0, args.app_root, args.insecure)
    else:
        result = startup(int(args.amount or 10))
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
