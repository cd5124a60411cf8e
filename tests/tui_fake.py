"""The curses client against a scripted fake connection, for pty tests.

    python3 tests/tui_fake.py SCRIPT.json [client options...]

The fake has ClientConnection's interface (app/net/client_net.py) and plays a JSON
script: names to refuse ("taken"), seconds of being unreachable, "history" lines,
who is "online" (and "counted": who join after the first member list, said in one
EV_MEMBERS, without names, as in a storm of joins), extra "events" (protocol.Event fields) right after joining, and
a "stream" of N chat lines at R lines/s (from "names" in turn, if given), a
"farewell" [seconds after joining, BYE code, reason(, why, seconds left, the
admin's words: the coded part, PROTOCOL.md 3.4)] (kicked, banned), an "away"
[seconds after joining, for how long] (reconnecting: our lines are reported
pending, then settled and echoed on the return). It echoes our own lines like the
server does and appends every call (say, private, leave, ...) to script["log"]
as JSON lines, so a test can see what the client sent. The UI code under test is
the real app/ui/client_tui.py (and app/ui/client/); only the network is scripted.
"""
import json
import os
import socket
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from app.core import protocol as P  # noqa: E402
from app.core.client_core import LinePending, LineSettled, Status  # noqa: E402

T0 = 1700000000.0          # 22:13 UTC: tests run with TZ=UTC
STREAM_NAMES = ("张三", "lisi", "Αλφα", "王小明")


def stream_text(i):
    return "消息 %04d hello κόσμε 世界" % i


class NoFiles:
    """The connection's files (app/net/client_files.py), with nothing under way."""

    def progress(self):
        return []


class FakeConnection:
    server_fingerprint = None        # like an --insecure connection: no key to show
    files = NoFiles()

    def __init__(self, script, host, port, name, now):
        self.script = script
        self.server_text = "%s:%d" % (host, port)
        self._quiet, self._loud = socket.socketpair()   # never readable: events come by tick
        self.name = name
        self.instance = 4242
        self.online = 0
        self.refusal = None
        self.refusal_coded = None      # (a real server's coded reasons: not played here)
        self.hint = ""
        self.state = "connecting"
        self.events = []
        self.seq = 0
        self.unreachable_until = now + script.get("unreachable_for", 0.0)
        self.stream_at = None
        self.streamed = 0
        self.ever_joined = False
        self.farewell = None
        self.farewell_coded = None
        self.joined_at = None
        self.away = []             # our lines said while away: (msg_id, text)
        self.msg_id = 0
        self._log("connect", name=name)
        self.tick(now)

    def _log(self, what, **fields):
        path = self.script.get("log")
        if path:
            with open(path, "a") as log:
                log.write(json.dumps(dict(fields, call=what), ensure_ascii=False) + "\n")

    def _event(self, kind, **fields):
        self.seq += 1
        fields.setdefault("online", self.online)
        self.events.append(P.Event(self.seq, T0, kind, **fields))

    # ------------------------------------------------------------ loop

    def fileno(self):
        return self._quiet.fileno()

    def on_readable(self, now):
        pass

    def tick(self, now):
        if self.state == "connecting":
            if now < self.unreachable_until:
                self.hint = "net_refused"          # as app/net/client_net.py gives it
                return min(0.5, self.unreachable_until - now)
            if self.name in self.script.get("taken", []):
                self.state = "refused"
                self.refusal = (P.REFUSE_NAME_TAKEN, "名字 %s 已被占用" % self.name)
                self.events.append(Status("refused", 0, self.refusal[1]))
                return 60.0
            self._join(now)
        due = self._farewell_or_away(now)
        stream = self.script.get("stream")
        if self.state != "joined" or not stream or self.streamed >= stream["count"]:
            return due
        due = int((now - self.stream_at) * stream["rate"]) + 1
        while self.streamed < min(due, stream["count"]):
            names = stream.get("names", STREAM_NAMES)
            name = names[self.streamed % len(names)]
            self._event(P.EV_CHAT, name=name, text=stream_text(self.streamed),
                        origin=7, msg_id=self.streamed + 1)
            self.streamed += 1
        if self.streamed >= stream["count"]:
            self._log("stream_done")
            return 60.0
        return max(0.0, self.stream_at + self.streamed / stream["rate"] - now)

    def _farewell_or_away(self, now):
        """Play "farewell" and "away"; the seconds until one of them is due."""
        due = [60.0]
        farewell = self.script.get("farewell")
        if farewell and self.state in ("joined", "reconnecting"):
            after, code, reason = farewell[:3]
            if now >= self.joined_at + after:
                self.state, self.farewell = "closed", (code, reason)
                if len(farewell) > 3:          # the coded part: why, seconds left, words
                    why, left, words = farewell[3:]
                    self.farewell_coded = P.Reason(why, time.time() + left, words)
                self.events.append(Status("closed", self.online, reason))
            else:
                due.append(self.joined_at + after - now)
        away = self.script.get("away")
        if away and self.state in ("joined", "reconnecting"):
            start, end = self.joined_at + away[0], self.joined_at + away[0] + away[1]
            if self.state == "joined" and start <= now < end:
                self.state = "reconnecting"
                self.events.append(Status("reconnecting", self.online, "no answer"))
            elif self.state == "reconnecting" and now >= end:
                self.state = "joined"
                self.events.append(Status("joined", self.online, "resumed"))
                for msg_id, text in self.away:
                    self.events.append(LineSettled(msg_id, True))
                    self._event(P.EV_CHAT, name=self.name, text=text, origin=self.instance,
                                msg_id=msg_id)
                self.away = []
            due += [t - now for t in (start, end) if t > now]
        return max(0.0, min(due))

    def _join(self, now):
        self.joined_at = now
        self.state = "joined"
        self.ever_joined = True
        self.online = len(self.script.get("online", [])) + 1
        self.events.append(Status("joined", self.online, ""))
        for name, text in self.script.get("history", []):
            self._event(P.EV_CHAT, name=name, text=text, flags=P.EVF_HISTORY, origin=9)
        self._event(P.EV_JOIN, name=self.name)
        for fields in self.script.get("events", []):
            self._event(fields.pop("kind"), **fields)
        stream = self.script.get("stream")
        if stream:
            self.stream_at = now + stream.get("start", 0.0)

    def take_events(self):
        events, self.events = self.events, []
        return events

    # ------------------------------------------------------------ API

    def say(self, text):
        self._log("say", text=text)
        for piece in _pieces(text):
            self.msg_id += 1
            if self.state == "reconnecting":
                self.away.append((self.msg_id, piece))
                self.events.append(LinePending(self.msg_id, P.SAY, piece, ""))
            elif self.state == "joined":
                self._event(P.EV_CHAT, name=self.name, text=piece, origin=self.instance,
                            msg_id=self.msg_id)

    def emote(self, text):
        self._log("emote", text=text)
        self._event(P.EV_EMOTE, name=self.name, text=text, origin=self.instance)

    def private(self, name, text):
        self._log("private", name=name, text=text)
        if name in self.script.get("online", []):
            self._event(P.EV_PRIVATE, name=self.name, target=name, text=text,
                        origin=self.instance)
        else:
            self._event(P.EV_NOTICE, code=P.NOTICE_NO_SUCH_USER, target=name)

    def who(self):
        self._log("who")
        counted = getattr(self, "counted", [])
        names = [self.name] + list(self.script.get("online", [])) + counted
        self._event(P.EV_WHO, text="\n".join(names), online=len(names))
        if not hasattr(self, "counted"):      # after the first list: "counted" come
            self.counted = self.script.get("counted", [])
            if self.counted:
                self._event(P.EV_MEMBERS, origin=P.members_counts(len(self.counted), 0))

    def hand_in(self, path, now):
        self._log("hand_in", text=path)
        return "no such file: " + path

    def rename(self, name, now):
        self._log("rename", name=name)
        self.name, self.state, self.refusal = name, "connecting", None
        self.tick(now)

    def leave(self, now):
        self._log("leave")
        self.state = "closed"

    def goodbye(self, now_fn, timeout=0.6):
        self.leave(now_fn())
        self.close()

    def close(self):
        self._log("close")
        self._quiet.close()
        self._loud.close()


def _pieces(text):
    from app.core.text import split_message
    return split_message(text, P.MAX_TEXT_BYTES)


def main():
    from app import cli
    from app.ui import client_tui

    with open(sys.argv[1]) as f:
        script = json.load(f)
    # The fake is the server: a HOST is given, so no LAN search is made.
    options = cli.parse(["client", "127.0.0.1"] + sys.argv[2:])

    def factory(host, port, name, now, room_key=None, security=None, downloads=None):
        return FakeConnection(script, host, port, name, now)

    return client_tui.run(options, connection_factory=factory)


if __name__ == "__main__":
    sys.exit(main())
