"""The room's log entries as records: the --log transcript's JSON object (the
network process writes it) and `chat.pyz log`'s times. The consoles word the
entries for people (app/ui/admin_text.py); here they stay data.
"""
import time
from typing import Any, Dict, Sequence


def iso_time(when: float) -> str:
    """Local time with its UTC offset: `2026-11-26T19:10:47+08:00`."""
    local = time.localtime(when)
    offset = local.tm_gmtoff if local.tm_gmtoff is not None else -time.timezone
    sign = "+" if offset >= 0 else "-"
    return time.strftime("%Y-%m-%dT%H:%M:%S", local) + "%s%02d:%02d" % (
        sign, abs(offset) // 3600, abs(offset) % 3600 // 60)


def entry_record(entry: Sequence[Any]) -> Dict[str, Any]:
    """A room log entry as the --log transcript's and `chat.pyz log
    --format jsonl`'s JSON object."""
    when, what, name, addr, detail = entry[:5]
    return {"time": iso_time(when), "event": str(what), "name": name, "addr": addr,
            "detail": detail}
