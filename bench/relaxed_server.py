"""Our server with its per-person flood protection relaxed: saturation runs only.

    python3 bench/relaxed_server.py server --headless --port P --bind 127.0.0.1

The same `chat.pyz server`, except that HubConfig's defaults for the chat rate
limit (msg_rate 5 lines/s, msg_burst 30, hold_cap 200) are raised so far that
they never act: a saturation run then measures the server, not the limit.
This is the counterpart of ngircd's `MaxPenaltyTime = 0` in procs.NGIRCD_CONF.
Run it with the checkout to measure as the working directory.
"""
import os
import sys

sys.path.insert(0, os.getcwd())          # the checkout's app/, not bench's

from app import cli  # noqa: E402
from app.core import hub

RELAXED = {"msg_rate": 1e9, "msg_burst": 1e9, "hold_cap": 10 ** 9}


def relax() -> None:
    defaults = dict(hub.HubConfig._field_defaults)
    defaults.update((k, v) for k, v in RELAXED.items() if k in defaults)
    hub.HubConfig.__new__.__defaults__ = tuple(defaults[f] for f in hub.HubConfig._fields
                                               if f in defaults)


if __name__ == "__main__":
    relax()
    sys.exit(cli.main())
