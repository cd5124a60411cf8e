"""Our server with its per-person flood protection relaxed: saturation runs only.

    python3 bench/relaxed_server.py server --headless --port P --bind 127.0.0.1

The same `chat.pyz server`, except that HubConfig's defaults for the chat rate
limit (msg_rate 5 lines/s, msg_burst 30, hold_cap 200) are raised so far that
they never act: a saturation run then measures the server, not the limit.
This is the counterpart of ngircd's `MaxPenaltyTime = 0` in procs.NGIRCD_CONF.
Run it with the checkout to measure as the working directory.
With BENCH_SERVER_PROFILE=FILE in its environment the server runs under
cProfile and writes its stats to FILE.PID when it exits (e.g. on SIGTERM).
"""
import os
import sys

sys.path.insert(0, os.getcwd())          # the checkout's app/, not bench's

from app import cli  # noqa: E402
from app.core import hub

RELAXED = {"msg_rate": 1e9, "msg_burst": 1e9, "hold_cap": 10 ** 9}


def relax() -> None:
    # Since --line-rate (app/core/options.py) the server passes msg_rate and
    # msg_burst to HubConfig itself: its default is what must be raised, or
    # every session stays at 5 lines a second (the bench then measured a
    # server mostly idle behind its limit: 3 s latency, ~5 000 deliveries/s).
    try:
        from app.core import options
    except ImportError:                    # a checkout from before the option
        options = None
    if options is not None and hasattr(options, "DEFAULT_LINE_RATE"):
        options.DEFAULT_LINE_RATE = 1e6    # the most cli's --line-rate accepts
    defaults = dict(hub.HubConfig._field_defaults)
    defaults.update((k, v) for k, v in RELAXED.items() if k in defaults)
    hub.HubConfig.__new__.__defaults__ = tuple(defaults[f] for f in hub.HubConfig._fields
                                               if f in defaults)


if __name__ == "__main__":
    relax()
    profile_to = os.environ.get("BENCH_SERVER_PROFILE")
    if not profile_to:
        sys.exit(cli.main())
    import cProfile
    import time
    profiler = cProfile.Profile(time.process_time)   # CPU, not the waits in poll
    try:
        code = profiler.runcall(cli.main)
    finally:
        profiler.dump_stats("%s.%d" % (profile_to, os.getpid()))   # (a forked child: its own)
    sys.exit(code)
