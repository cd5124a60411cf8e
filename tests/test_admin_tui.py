"""The server's curses admin console, through the built chat.pyz in a real pty
(pyte, and tmux where installed) against real line-mode clients. The scenarios
here run it in English (`--lang en`): they pin its workings, the words are the
same table's (tests/test_admin_lang.py has the Chinese default, on screen too).

`chat.pyz server` on a terminal forks the console (app/ui/admin_tui.py); the parent
is the network process. Log rows are compared whole with their time stamps
masked (hh:mm:ss) and the start line (it holds the socket's buffer size) left
out; the online pane with idle times masked; the status line by pattern (the
uptime moves); the input row and the cursor exactly. Every wait has a deadline.
"""
import ctypes
import os
import re
import signal
import socket
import time

import pytest
from chatproc import HOST, free_udp_port, start_client
from termharness import TMUX, PtyTerminal, TmuxTerminal, children_of, cpu_seconds, process_state

from app.core.admin import LogKind
from app.core.console_messages import ConsoleState
from app.ui.admin_text import DATED, help_lines, tr
from app.ui.admin_tui import (
    clock,
    log_line,
    online_rows,
    online_width,
    spread,
    status_text,
)
from app.ui.width import text_width, wrap

pytestmark = pytest.mark.timeout(90)

STAMP = re.compile(r"^\d\d:\d\d:\d\d ")
RULE = "\u2502 "
CONFIRM = tr("en", "confirm")
STOPPED, NETWORK_GONE = tr("en", "stopped"), tr("en", "network_gone")
CONSOLE_REPLACED = tr("en", "note_console_replaced")
HELP_LINES = help_lines("en")


# ---------------------------------------------------------------- pure parts

def body(what, name="", addr="", detail="", when=0.0):
    return "".join(text for text, _ in log_line((when, what, name, addr, detail), 0, "en")[1:])


def test_log_lines_for_each_event():
    assert body(LogKind.JOIN, "张三", "127.0.0.1:5") == "张三 joined the room  127.0.0.1:5"
    assert body(LogKind.LEAVE, "张三") == "张三 left the room"
    assert body(LogKind.TIMEOUT, "张三", detail="stopped acknowledging") == \
        "张三 left the room (timed out: stopped acknowledging)"
    assert body(LogKind.TIMEOUT, "张三", detail="no reply for 30 s") == \
        "张三 left the room (timed out: no reply for 30 s)"
    assert body(LogKind.KICK, "张三", detail="刷屏") == "张三 left the room (kicked: 刷屏)"
    assert body(LogKind.BAN, "lisi", "127.0.0.1:9") == "lisi left the room (banned)"
    assert body(LogKind.BAN, "lisi", "console", "3 min noisy") == "ban lisi: 3 minutes (noisy)"
    assert body(LogKind.CHAT, "张三", detail="大家好") == "张三 : 大家好"
    assert body(LogKind.EMOTE, "张三", detail="挥手") == "* 张三 挥手"
    assert body(LogKind.PRIVATE, "张三", "1.2.3.4:5", "to lisi") == \
        "张三 sent a private message to lisi"
    assert body(LogKind.ADMIN, addr="console", detail="下课") == "Admin message: 下课"
    assert body(LogKind.RESUME, "张三", "1.2.3.4:6", "was 1.2.3.4:5") == \
        "张三 is back from 1.2.3.4:6 (was 1.2.3.4:5)"
    assert body(LogKind.MALFORMED, addr="1.2.3.4:5", detail="1 short") == \
        "malformed datagram from 1.2.3.4:5 (short)"
    assert body(LogKind.MALFORMED, addr="1.2.3.4:5", detail="7 short") == \
        "malformed datagram from 1.2.3.4:5 (short; 7 dropped since the last report)"
    assert body(LogKind.THROTTLE, "张三") == "张三 is sending too fast: throttled"
    assert body(LogKind.REFUSE, "lisi", "1.2.3.4:5", "banned_name 600 noisy", when=0.0) == \
        "refused lisi from 1.2.3.4:5: the name is banned, 10 more minutes (noisy)"
    assert body(LogKind.REFUSE, "lisi", "1.2.3.4:5", "taken 0 lisi") == \
        "refused lisi from 1.2.3.4:5: the name is taken by lisi"
    assert body(LogKind.REFUSE, "a b", "1.2.3.4:5", "name_space 0") == \
        "refused a b from 1.2.3.4:5: a name cannot contain spaces (join words with _ or -, " \
        "e.g. Zhang_San)"
    # An older server's stored entry: its English reason as it is.
    assert body(LogKind.REFUSE, "lisi", "1.2.3.4:5", "you are banned") == \
        "refused lisi from 1.2.3.4:5: you are banned"
    assert body(LogKind.REFUSE, "", "1.2.3.4:5") == "refused a client from 1.2.3.4:5"
    assert body(LogKind.SHUTDOWN, addr="console") == "telling every client the server is closing"
    # As it comes over the channel: a plain str for the kind.
    assert body("chat", "张三", detail="大家好") == "张三 : 大家好"
    # An event this console does not know: its fields as they are.
    assert body("rename", "", "x:1", "to lisi", when=1.0) == "rename - x:1 to lisi"
    # Nothing from the network reaches the terminal raw.
    assert body(LogKind.CHAT, "x", detail="a\x1b[2Jb") == "x : a[2Jb"
    assert log_line((0.0, "chat", "", "", ""), 0, "en")[0][1] == "time"


def text_of(row):
    return "".join(text for text, _ in row)


def test_online_rows_one_a_person_and_cut_with_a_count():
    online = (("lisi", "127.0.0.1:4001", 75, 0, False), ("张三", "127.0.0.1:4000", 3, 12, True),
              ("王五", "127.0.0.1:4002", 700, 1, False))
    assert [text_of(row) for row in online_rows(online, 24, 10, "en")] == [
        "online 3 ! muted  ~ away",
        " lisi                 1m",
        "!张三                 3s",
        "~王五                11m"]
    assert [text_of(row) for row in online_rows(online, 24, 2, "en")] == [
        "online 3 ! muted  ~ away",
        " lisi    1m +2 more     "]


def test_small_formatters():
    assert spread("左边很长很长的名字", "said 1", 14) == "左边很  said 1"   # never half a wide char
    assert spread("a", "b", 5) == "a   b"
    assert clock(3725) == "1:02:05"
    assert online_width(80) == 26 and online_width(63) == 0 and online_width(200) == 34
    state = ConsoleState("0.0.0.0:9797", 65, (("a", "x:1", 0, 0, False), ("b", "x:2", 0, 0, False)),
                         7, 1.25)
    assert status_text(state, "*:9797", "en") == \
        " 0.0.0.0:9797 | up 0:01:05 | online 2 | 1.2 msg/s | dropped 7"
    assert status_text(None, "*:9797", "en") == " *:9797 | starting"
    assert status_text(state, "*:9797", "en", 60) == \
        "0.0.0.0:9797|up 0:01:05|online 2|1.2 msg/s|dropped 7"


# ---------------------------------------------------------------- the room

# As from a login shell: the shell leads the session (so the terminal outlives the
# server), and once the server has ended and the test says so (a line), the shell
# shows the terminal's modes and the server's exit code through the pty.
SHELL = '"$@"; code=$?; read line; stty -a; echo "server exited $code"'


class Room:
    """`chat.pyz server` in a pty (the console), run by a shell, and line-mode clients."""

    def __init__(self, pyz, tmp_path, lines=24, cols=80, env=None, terminal=PtyTerminal,
                 lang=("--lang", "en")):
        self.pyz, self.tmp_path = pyz, tmp_path
        self.port = free_udp_port()
        self.clients = []
        argv = ["sh", "-c", SHELL, "sh", pyz, "server", "--port", str(self.port), "--bind", HOST,
                *lang]
        self.term = terminal(argv, lines=lines, cols=cols,
                             env=dict({"TZ": "UTC"}, **(env or {})))
        self.term.wait_for(lambda l, c: any(" %s:%d | " % (HOST, self.port) in row
                                            and re.search(r"\| \S+ \d+:\d\d:\d\d \|", row)
                                            for row in l), what="the console's status line")
        shell = self.term.pid() if terminal is TmuxTerminal else self.term.proc.pid
        self.network = children_of(shell)[0]
        self.console = children_of(self.network)[0]

    def shell_after(self):
        """Let the shell go on once the server has ended; return (its exit code,
        the terminal's modes as `stty -a` shows them)."""
        self.term.wait_for(lambda l, c: process_state(self.network) is None, timeout=5,
                           what="the server gone")
        self.term.type("enter")
        lines, _ = self.term.wait_text("server exited ")
        text = "\n".join(lines)
        code = int(re.search(r"server exited (\d+)", text).group(1))
        return code, set(re.findall(r"(?<![\w-])-?\w+", text))

    def join(self, name, *extra):
        client = start_client(self.pyz, self.port, name, self.tmp_path, *extra)
        self.clients.append(client)
        return client

    def online(self, count):
        """Wait until the status line counts `count` people online."""
        self.term.wait_for(lambda l, c: re.search(r"\| ?(?:online|在线) %d ?\|" % count, l[-2]),
                           what="online %d" % count)

    def type_line(self, text):
        self.term.type(text, "enter")

    def said(self, text, timeout=10.0):
        """Wait until the log pane holds `text` (maybe wrapped over rows)."""
        return self.term.wait_for(lambda l, c: squash(text) in squash(log_text(l, self.term.cols)),
                                  timeout, "%r in the log" % text)

    def close(self):
        for client in reversed(self.clients):
            client.stop()
        if process_state(self.network) is not None:
            os.kill(self.network, signal.SIGTERM)
            self.term.wait_for(lambda l, c: process_state(self.network) is None,
                               timeout=5, what="the server gone")
        self.term.close()


@pytest.fixture
def room(pyz, tmp_path):
    made = []

    def make(**options):
        made.append(Room(pyz, tmp_path, **options))
        return made[-1]

    yield make
    for one in made:
        one.close()


def cells(row, start, end=None):
    """Columns start..end of a screen row (pyte gives a wide character one str
    item for its two cells)."""
    out, col = [], 0
    for ch in row:
        if start <= col and (end is None or col + text_width(ch) <= end):
            out.append(ch)
        col += text_width(ch)
    return "".join(out)


def log_rows(lines, cols):
    """The log pane's rows, time stamps masked."""
    width = cols - online_width(cols)
    return [STAMP.sub("hh:mm:ss ", cells(row, 0, width).rstrip()) for row in lines[:-2]]


def log_text(lines, cols, between=""):
    return between.join(log_rows(lines, cols))


def squash(text):
    return "".join(text.split())


def wait_log(term, expected, cols=80, timeout=10.0):
    """Wait until the log pane ends with exactly the rows `expected` and blank rows
    (what the server says when it starts stands above them)."""
    def same(lines, cursor):
        rows = log_rows(lines, cols)
        if expected[0] not in rows:
            return False
        first = rows.index(expected[0])
        return rows[first:first + len(expected)] == expected and \
            not any(rows[first + len(expected):])
    try:
        return term.wait_for(same, timeout, "log rows")
    except AssertionError as exc:
        raise AssertionError("%s\nexpected log rows:\n%s" % (exc, "\n".join(expected)))


IDLE = re.compile(r" +\d+[smhd](?= |$)")     # a roster cell's idle time, right-aligned


def pane(lines, cols):
    """The online pane's rows, idle times masked."""
    side = online_width(cols)
    return [IDLE.sub(" N", cells(row, cols - side).rstrip()) for row in lines[:-2]]


def expected_pane(people, rows, cols):
    """people: (name, addr, said) in the pane's order."""
    width = online_width(cols) - 2
    online = tuple((n, a, 0, s, False) for n, a, s in people)
    shown = [RULE + "".join(text for text, _ in row) for row in online_rows(online, width, rows, "en")]
    shown += [RULE] * (rows - len(shown))
    return [IDLE.sub(" N", row.rstrip()) for row in shown]


def addresses(lines):
    found = {}
    for row in lines:
        match = re.search(r"(\S+) joined the room  (127\.0\.0\.1:\d+)", row)
        if match:
            found[match.group(1)] = match.group(2)
    return found


def status_pattern(port, online, dropped=r"\d+", right=""):
    """The status line (its fields closer together on a narrow terminal)."""
    return r" ?%s:%d( ?\| ?)up \d:\d\d:\d\d\1online %d\1\d+\.\d msg/s\1dropped %s *%s" % (
        re.escape(HOST), port, online, dropped, re.escape(right))


# ---------------------------------------------------------------- scenarios

def test_announcement_reaches_everyone_and_the_history(room):
    r = room()
    zhang, lisi = r.join("张三"), r.join("lisi")
    zhang.send("大家好")
    r.online(2)
    r.type_line("下课前提交作业")
    for client in (zhang, lisi):
        client.wait_line(lambda line: line == "管理员消息: 下课前提交作业")
    late = r.join("王五")
    assert "管理员消息: 下课前提交作业" in late.seen       # history came before the join
    assert late.seen.index("管理员消息: 下课前提交作业") < late.seen.index("王五 进入了聊天室")
    r.online(3)
    where = addresses(r.term.wait_text("王五 joined the room")[0])
    lines, cursor = wait_log(r.term, ["hh:mm:ss 张三 joined the room  %s" % where["张三"],
                                      "hh:mm:ss lisi joined the room  %s" % where["lisi"],
                                      "hh:mm:ss 张三 : 大家好",
                                      "hh:mm:ss Admin message: 下课前提交作业",
                                      "hh:mm:ss 王五 joined the room  %s" % where["王五"]])
    people = [("lisi", where["lisi"], 0), ("张三", where["张三"], 1), ("王五", where["王五"], 0)]
    r.term.wait_for(lambda l, c: pane(l, 80) == expected_pane(people, 22, 80),
                    what="the online pane")
    assert re.fullmatch(status_pattern(r.port, 3, 0), lines[22])
    assert lines[23].rstrip() == ">" and cursor == (2, 23)


def test_tab_completes_commands_and_names_then_kick(room):
    r = room()
    zhang, lisi = r.join("张三"), r.join("lisi")
    r.online(2)
    r.term.type("/ki", "tab")
    r.term.wait_for(lambda l, c: l[23].rstrip() == "> /kick" and c == (8, 23),
                    what="/kick completed")
    r.term.type("张", "tab")
    r.term.wait_for(lambda l, c: l[23].rstrip() == "> /kick 张三" and c == (13, 23),
                    what="the name completed")
    r.term.type("刷屏", "enter")
    lisi.wait_line(lambda line: line == "张三 退出了聊天室 (被踢出)")
    assert zhang.wait_exit() == 3                     # removed: ExitCode.REFUSED
    assert "你被管理员移出了聊天室 (原因: 刷屏)" in zhang.stderr_text()
    where = addresses(r.term.snapshot()[0])
    wait_log(r.term, ["hh:mm:ss 张三 joined the room  %s" % where["张三"],
                      "hh:mm:ss lisi joined the room  %s" % where["lisi"],
                      "hh:mm:ss > /kick 张三 刷屏",
                      "         kicked 张三; 张三 refused for 5 minutes",
                      "         (/unban 张三 lifts it)",
                      "hh:mm:ss 张三 left the room (kicked: 刷屏)"])
    r.type_line("/kick nobody")
    r.said("nobody called nobody is here")


def test_timed_ban_is_refused_with_the_time_left_then_lifted(room):
    r = room()
    zhang, lisi = r.join("张三"), r.join("lisi")
    r.type_line("/ban 127.0.0.2 1h")                # a ban of its own, left in place
    r.said("banned address 127.0.0.2 for 60 minutes")
    r.type_line("/ban lisi 3 noisy")
    r.said("banned name lisi for 3 minutes; removed lisi")
    zhang.wait_line(lambda line: line == "lisi 退出了聊天室 (被封禁)")
    assert lisi.wait_exit() == 3 and "你被管理员禁止进入聊天室" in lisi.stderr_text()
    again = start_client(r.pyz, r.port, "lisi", r.tmp_path, wait_joined=False)
    r.clients.append(again)
    assert again.wait_exit() == 3
    assert "名字 lisi 被管理员禁止进入聊天室" in again.stderr_text()
    assert "(原因: noisy)" in again.stderr_text()
    r.said("refused lisi from 127.0.0.1:")
    r.type_line("/bans")
    r.said("ban 127.0.0.2: address 127.0.0.2, 60 min left")
    r.said("ban lisi: name lisi, 3 min left (noisy)")
    r.type_line("/unban lisi")
    r.said("lifted the ban on name lisi")
    r.type_line("/bans")
    r.said("ban 127.0.0.2: address 127.0.0.2, 60 min left")
    r.join("lisi")                                # welcome again
    zhang.wait_line(lambda line: line == "lisi 进入了聊天室")


def test_mute_and_unmute(room):
    r = room()
    zhang, lisi = r.join("张三"), r.join("lisi")
    r.type_line("/mute lisi 5")
    r.said("muted lisi for 5 minutes")
    muted = lambda line: re.fullmatch(r"-- 你已被管理员禁言，到 \d\d:\d\d 为止", line)
    lisi.wait_line(muted)                         # told when the mute begins ...
    lisi.send("anyone?")
    lisi.wait_line(muted)                         # ... and when a line is dropped
    r.type_line("/unmute lisi")
    r.said("unmuted lisi")
    lisi.wait_line(lambda line: line == "-- 禁言已解除，可以发言了")
    lisi.send("back")
    zhang.wait_line(lambda line: line == "lisi : back")
    assert "lisi : anyone?" not in zhang.seen
    assert not any("anyone?" in row for row in r.term.snapshot()[0])


def test_motd_is_shown_to_each_joiner(room):
    r = room()
    r.type_line("/motd 欢迎来到实验室")
    r.said("motd: 欢迎来到实验室")
    joiner = r.join("张三")
    assert "-- 欢迎来到实验室" in joiner.seen
    r.type_line("/motd")
    r.said("motd: 欢迎来到实验室")                    # alone: shows it
    r.type_line("/motd -")
    r.said("motd: (none)")
    assert "-- 欢迎来到实验室" not in r.join("lisi").seen


def stats_numbers(term, before):
    """The counters of the newest /stats reply, once one newer than `before` shows."""
    def newest(lines):
        found = re.findall(r"online \d+; [^;]*? timeouts \d+", log_text(lines, 80, " "))
        return found[-1] if len(found) > before else None
    lines, _ = term.wait_for(lambda l, c: newest(l), what="a /stats reply")
    return {k: int(v) for k, v in re.findall(r"(\w+) (\d+)", newest(lines))}


def test_stats_and_status_line_move_as_clients_chat(room):
    r = room()
    zhang, lisi = r.join("张三"), r.join("lisi")
    r.type_line("/stats")
    first = stats_numbers(r.term, 0)
    assert (first["online"], first["joins"], first["messages"]) == (2, 2, 0)
    for i in range(3):
        zhang.send("消息 %d" % i)
    lisi.wait_line(lambda line: line == "张三 : 消息 2")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as junk:
        junk.sendto(b"\xffjunk", (HOST, r.port))
    r.said("malformed datagram from 127.0.0.1:")
    r.term.wait_for(lambda l, c: re.fullmatch(status_pattern(r.port, 2, 1), l[22]),
                    what="dropped 1 on the status line")
    r.type_line("/stats")
    second = stats_numbers(r.term, 1)
    assert second["messages"] == 3 and second["malformed"] == 1
    assert second["datagrams"] > first["datagrams"]


def test_help_usage_unknown_and_a_cancelled_quit(room):
    r = room()
    r.type_line("/help")
    r.said(HELP_LINES[-1])
    r.type_line("/kick")
    r.said("usage: /kick NAME [reason]")
    r.type_line("/frobnicate")
    r.said("unknown command /frobnicate; /help lists the commands")
    r.term.type("半句", "^C")
    r.term.wait_for(lambda l, c: l[23].rstrip() == CONFIRM.rstrip(), what="the question")
    r.term.type("n")
    r.said("/quit cancelled")
    r.term.wait_for(lambda l, c: l[23].rstrip() == "> 半句" and c == (6, 23),
                    what="the input kept")
    r.term.type("^U", "^D")                       # Ctrl-D on an empty line asks too
    r.term.wait_for(lambda l, c: l[23].rstrip() == CONFIRM.rstrip() and
                    c == (len(CONFIRM), 23), what="the question again")
    r.term.type("esc")                            # a lone Escape: no
    r.term.wait_for(lambda l, c: l[23].rstrip() == ">" and c == (2, 23), what="asked no more")
    assert process_state(r.network) not in (None, "Z")


def test_cjk_paste_backspace_and_scrollback(room):
    r = room()
    r.term.paste("你好世界")
    r.term.wait_for(lambda l, c: l[23].rstrip() == "> 你好世界" and c == (10, 23),
                    what="the paste")
    r.term.type("backspace")
    r.term.wait_for(lambda l, c: l[23].rstrip() == "> 你好世" and c == (8, 23),
                    what="one wide character gone")
    r.term.type("^U")
    for i in range(30):
        r.type_line("/motd 第%d条" % i)
    r.said("motd: 第29条")
    r.term.type("pgup")
    r.term.wait_text("-- ")                       # the "new below" indicator row
    lines, _ = r.term.snapshot()
    assert not any("motd: 第29条" in row for row in lines)
    assert "scrolled back: PgDn" in lines[22]
    r.term.type("pgdn")
    r.term.wait_for(lambda l, c: "motd: 第29条" in l[21], what="back at the bottom")


LONG = "/motd 第%d条 让这一行足够长以便在窄的终端里折行显示"


def expected_log_bottom(commands, width, height):
    """The last `height` rows of the log after `commands` (each echoed, then its
    reply), wrapped as the console wraps them: what does not fit goes on under
    the text, past the time column."""
    rows = []
    for command in commands:
        for stamp, text in (("hh:mm:ss ", "> " + command), ("         ", "motd: " + command[6:])):
            pieces = wrap(text, width - len(stamp))
            rows += [(stamp + pieces[0]).rstrip()] + \
                [(" " * len(stamp) + piece).rstrip() for piece in pieces[1:]]
    return rows[-height:]


def resized_screen_is_exact(r, commands, text, lines, cols):
    """After a resize: the log re-wrapped, the pane placed, status and input exact."""
    side = online_width(cols)
    log = expected_log_bottom(commands, cols - side, lines - 2)

    def exact(screen, cursor):
        if len(screen) != lines:
            return False
        rows = log_rows(screen, cols)
        online = pane(screen, cols) if side else []
        return (rows == log and (online == expected_pane([], lines - 2, cols) if side else
                                 not any(RULE.strip() in row for row in screen))
                and re.fullmatch(status_pattern(r.port, 0), screen[-2])
                and screen[-1].rstrip() == "> " + text
                and cursor == (2 + text_width(text), lines - 1))
    try:
        r.term.wait_for(exact, what="the %dx%d layout" % (cols, lines))
    except AssertionError as exc:
        raise AssertionError("%s\nexpected log rows:\n%s" % (exc, "\n".join(log)))


@pytest.mark.parametrize("terminal", ["pty", "tmux"])
def test_resize_at_any_moment(room, terminal):
    if terminal == "tmux" and not TMUX:
        pytest.skip("tmux is not installed")
    r = room(terminal=TmuxTerminal if terminal == "tmux" else PtyTerminal)
    commands = [LONG % i for i in range(16)]
    for command in commands:
        r.type_line(command)
        r.said("motd: " + command[6:])
    r.term.type("你好 世界")
    for lines, cols in ((30, 100), (16, 60), (20, 72), (24, 80)):
        r.term.resize(lines, cols)
        resized_screen_is_exact(r, commands, "你好 世界", lines, cols)
    if terminal == "pty":
        r.term.resize(2, 10)                      # too small to draw: nothing breaks
        r.term.resize(24, 80)
        resized_screen_is_exact(r, commands, "你好 世界", 24, 80)


@pytest.mark.parametrize("env", [{"TERM": "vt100"}, {"NO_COLOR": "1"}])
def test_plain_terminals_have_no_colour(room, env):
    r = room(env=env)
    zhang = r.join("张三")
    zhang.send("你好")
    r.term.wait_text("张三 : 你好")
    r.term.type("hi 世界")
    r.term.wait_for(lambda l, c: l[23].rstrip() == "> hi 世界" and c == (9, 23), what="input")
    assert not re.search(rb"\x1b\[[0-9;]*3[0-7]m", bytes(r.term.raw)), "colour used"


# ---------------------------------------------------------------- exits

EXITS = ("quit", "ctrl_c", "console_sigterm", "sighup", "network_sigterm", "network_killed")


def _subreaper(on):
    """Orphans come to us, not init: we can reap the console and see its exit code."""
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.prctl(36, 1 if on else 0, 0, 0, 0) == 0     # PR_SET_CHILD_SUBREAPER


def sane(modes):
    return {"icanon", "echo", "isig", "icrnl", "opost"} <= modes


@pytest.mark.parametrize("how", EXITS)
def test_every_exit_path_restores_the_terminal(room, how):
    r = room()
    zhang = r.join("张三")
    term, network, console = r.term, r.network, r.console
    if how in ("quit", "ctrl_c"):
        term.type(*(("/quit", "enter") if how == "quit" else ("^C",)))
        term.wait_for(lambda l, c: l[23].rstrip() == CONFIRM.rstrip(), what="the question")
        term.type("y")
    elif how == "console_sigterm":
        os.kill(console, signal.SIGTERM)
    elif how == "sighup":
        term.hang_up()
    elif how == "network_sigterm":
        os.kill(network, signal.SIGTERM)
    else:                                         # network_killed: the console is orphaned
        _subreaper(True)
        try:
            os.kill(network, signal.SIGKILL)
            term.wait_for(lambda l, c: console in children_of(os.getpid()), timeout=3,
                          what="the console handed to us")
            _, status = os.waitpid(console, 0)    # reaped here: no zombie left behind
            assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
        finally:
            _subreaper(False)
    if how == "sighup":                           # no terminal left to look at
        term.wait_for(lambda l, c: process_state(network) is None and
                      process_state(console) is None, timeout=3, what="both gone")
        return
    # The console is gone, reaped by the network process (or by us above).
    term.wait_for(lambda l, c: process_state(console) is None, timeout=3,
                  what="the console gone and reaped")
    if how == "console_sigterm":                  # a line-mode console takes its place
        term.wait_text(CONSOLE_REPLACED[:40])
        zhang.send("还在吗")
        term.wait_for(lambda l, c: any(DATED.match(row) and "张三 : 还在吗" in row for row in l),
                      what="the line-mode console's dated log line")
        wait_asleep(term, network)
        wait_asleep(term, children_of(network)[0])
        os.kill(network, signal.SIGTERM)
    if how != "network_killed":
        term.wait_for(lambda l, c: "服务器已关闭" in zhang.stderr_text(),
                      what="the client told that the server is closing")
    term.wait_for(lambda l, c: b"\x1b[?2004l" in term.raw and b"\x1b[?1049l" in term.raw,
                  timeout=2, what="bracketed paste off, the normal screen back")
    code, modes = r.shell_after()
    assert code == (128 + signal.SIGKILL if how == "network_killed" else 0)   # as sh says
    assert sane(modes), sorted(modes)
    if how != "console_sigterm":                  # the last word on the terminal
        term.wait_text(NETWORK_GONE if how == "network_killed" else STOPPED)


def wait_asleep(term, pid):
    """The process goes back to waiting for work (state S) once it has written
    what we saw: a process that spins stays R. (Checked once, right after its
    output, it may still be finishing that write: R for a moment.)"""
    term.wait_for(lambda l, c: process_state(pid) == "S", timeout=2,
                  what="process %d asleep, not spinning" % pid)


def test_console_killed_while_clients_chat_the_room_keeps_working(room):
    r = room()
    zhang, lisi = r.join("张三"), r.join("lisi")
    zhang.send("第一句")
    r.term.wait_text("张三 : 第一句")
    os.kill(r.console, signal.SIGKILL)
    lisi.send("第二句")
    zhang.wait_line(lambda line: line == "lisi : 第二句")
    r.term.wait_text(CONSOLE_REPLACED[:40])
    r.term.wait_for(lambda l, c: process_state(r.console) is None, timeout=3,
                    what="the console reaped")
    late = r.join("王五")
    assert "lisi : 第二句" in late.seen
    zhang.send("第三句")
    r.term.wait_for(lambda l, c: any(DATED.match(row) and "张三 : 第三句" in row for row in l),
                    what="the line-mode console's dated log line")
    wait_asleep(r.term, r.network)
    [line_console] = children_of(r.network)
    assert line_console != r.console
    wait_asleep(r.term, line_console)
    # The network process mends what the killed console left: modes and screen.
    os.kill(r.network, signal.SIGTERM)
    code, modes = r.shell_after()
    assert code == 0 and sane(modes), sorted(modes)
    assert b"\x1b[?1049l" in r.term.raw


def test_idle_console_uses_almost_no_cpu(room):
    r = room()
    r.join("张三")
    r.online(1)
    before = cpu_seconds(r.console)
    started = time.monotonic()
    r.term.wait_for(lambda l, c: time.monotonic() - started > 4, timeout=6, what="4 s idle")
    used = cpu_seconds(r.console) - before
    assert used / (time.monotonic() - started) < 0.01


@pytest.mark.parametrize("term_name", ["dumb", "no-such-terminal"])
def test_a_terminal_curses_cannot_drive_falls_back_to_admin_lines(pyz, tmp_path, term_name):
    port = free_udp_port()
    with PtyTerminal([pyz, "server", "--port", str(port), "--bind", HOST],
                     env={"TERM": term_name}) as term:
        client = None
        try:
            term.wait_text("改为从标准输入读取")          # Chinese by default
            client = start_client(pyz, port, "张三", tmp_path)
            term.type("/motd 你好", "enter")
            term.wait_text("欢迎消息: 你好")
            term.type("下课了", "enter")
            client.wait_line(lambda line: line == "管理员消息: 下课了")
            os.kill(term.proc.pid, signal.SIGTERM)
            assert term.wait_exit(5) == 0
        finally:
            if client is not None:
                client.stop()
