"""The curses client, through a real pty and the pyte emulator.

Most scenarios run app/ui/client_tui.py against a scripted fake connection
(tests/tui_fake.py): it can stream 1000 lines at 200/s, refuse names and play
hostile input deterministically. The scenarios that need a real room (two
people, /msg privacy, history from the server, leaving seen by the others) run
the built chat.pyz against a real server; see the end of this file.

Screens are compared whole, with the cursor, and every wait has a deadline.
"""
import json
import os
import random
import re
import signal
import subprocess
import sys
import termios
import threading
import time

import pytest
import tui_fake
from chatproc import HOST, free_udp_port, start_client, start_server
from udprelay import LossyRelay
from termharness import TMUX, PtyTerminal, TmuxTerminal, children_of, cpu_seconds, process_state

from app.core import protocol as P
from app.ui import line_editor, render
from app.ui.client.sender import MAX_INPUT_BYTES
from app.ui.line_editor import LineEditor
from app.ui.screen import KeyDecoder, Layout
from app.ui.width import text_width, truncate_to_width

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE = os.path.join(HERE, "tui_fake.py")
ME = "me"


# ---------------------------------------------------------------- pure parts

def test_multi_line_paste_becomes_one_line():
    assert line_editor.one_line("line1\r\nline2\nline3\n") == "line1 line2 line3"
    assert line_editor.one_line("a\x1b[31mb\tc") == "a[31mb c"


def decode(*chunks, flush=False):
    decoder = KeyDecoder()
    out = []
    for chunk in chunks:
        out += decoder.feed(chunk)
    return out + (decoder.flush() if flush else [])


def test_key_decoder_spellings():
    assert decode(b"ab\xe4\xbd\xa0") == [("text", "ab你")]
    assert decode(b"\x1b[D\x1b[C\x1bOA\x1b[B\x1b[1~\x1b[4~\x1b[H\x1b[F\x1bOH") == [
        ("key", k) for k in ("left", "right", "up", "down", "home", "end", "home", "end",
                             "home")]
    assert decode(b"\x1b[3~\x1b[5~\x1b[6~\x1b[1;2C") == [
        ("key", "delete"), ("key", "pgup"), ("key", "pgdn"), ("key", "right")]
    assert decode(b"\r\t\x7f\x08\x01\x17\x03\x04") == [
        ("key", k) for k in ("enter", "tab", "backspace", "backspace", "^A", "^W", "^C", "^D")]
    assert decode(b"\x1b[[A\x1b[15~x") == [("text", "x")]      # F1 (console), F5: ignored


@pytest.mark.parametrize("data, key", [
    (b"\x1b[1;5D", "ctrl-left"), (b"\x1b[1;5C", "ctrl-right"),      # xterm, VTE, tmux
    (b"\x1b[1;5H", "ctrl-home"), (b"\x1b[1;5F", "ctrl-end"),
    (b"\x1b[1;7D", "ctrl-left"), (b"\x1b[1;6C", "ctrl-right"),      # with Alt, Shift
    (b"\x1b[5D", "ctrl-left"), (b"\x1bO5C", "ctrl-right"),          # old xterm, PuTTY
    (b"\x1bOd", "ctrl-left"), (b"\x1bOc", "ctrl-right"),            # rxvt
    (b"\x1b[7^", "ctrl-home"), (b"\x1b[8^", "ctrl-end"),
    (b"\x1b[1;5~", "ctrl-home"), (b"\x1b[4;5~", "ctrl-end"),
    (b"\x1b[1;3D", "left"), (b"\x1b[1;2C", "right"),                # Alt, Shift: plain
    (b"\x1b[3;5~", "delete"),
    (b"\x1bb", "M-b"), (b"\x1bf", "M-f"), (b"\x1bd", "M-d"), (b"\x1by", "M-y"),
    (b"\x1bB", "M-B"), (b"\x1b\x7f", "M-backspace"), (b"\x19", "^Y"),
])
def test_key_decoder_word_and_pane_keys(data, key):
    assert decode(data) == [("key", key)]
    # Cut anywhere, the key still comes out whole, and text around it is text.
    for cut in range(1, len(data)):
        assert decode(b"a" + data[:cut], data[cut:] + b"z") == [
            ("text", "a"), ("key", key), ("text", "z")]


def test_key_decoder_escape_before_non_ascii_is_still_a_lone_escape():
    assert decode("\x1b你".encode()) == [("key", "esc"), ("text", "你")]
    assert decode(b"\x1b\x01") == [("key", "esc"), ("key", "^A")]


def test_key_decoder_waits_for_cut_sequences_and_lone_escape():
    assert decode(b"\x1b[", b"D") == [("key", "left")]
    assert decode(b"\xe4\xbd", b"\xa0") == [("text", "你")]
    assert decode(b"\x1b") == []
    assert decode(b"\x1b", flush=True) == [("key", "esc")]


def test_key_decoder_bracketed_paste():
    assert decode(b"\x1b[200~a\nb\x1b[D\x1b[201~c") == [("paste", "a\nb\x1b[D"), ("text", "c")]
    assert decode(b"\x1b[200~ab\x1b[2", b"01~") == [("paste", "ab")]
    assert decode(b"\x1b[200~\xe4\xbd", b"\xa0\x1b[201~") == [("paste", "你")]


def test_layout():
    layout = Layout(24, 80)
    assert (layout.pane_height, layout.status_y, layout.input_y) == (22, 22, 23)
    assert not Layout(2, 80).usable


# ---------------------------------------------------------------- helpers

def fake_client(tmp_path, script, *options, lines=24, cols=80, env=None, terminal=PtyTerminal):
    script = dict(script, log=str(tmp_path / "calls.log"))
    path = tmp_path / "script.json"
    path.write_text(json.dumps(script, ensure_ascii=False))
    full_env = {"TZ": "UTC", "CHAT_TUI_LOG": str(tmp_path / "crash.log")}
    full_env.update(env or {})
    argv = [sys.executable, FAKE, str(path)] + list(options or ("--name", ME))
    return terminal(argv, lines=lines, cols=cols, env=full_env)


def calls(tmp_path):
    path = tmp_path / "calls.log"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


CLOCK = "HH:MM"                 # the status line's clock, as unclock() masks it


def unclock(line):
    """A screen line with the status line's clock (" 18:09 ") masked as CLOCK: the
    expected screens do not depend on the minute they are compared in."""
    return re.sub(r"(?<= )[0-2]\d:[0-5]\d(?= )", CLOCK, line, count=1)


def masked(line):
    """unclock, and the activity count ("新 12 ", "Act: 12 ") blanked: for the tests
    whose room talks while they type (how many lines came after the last key is
    timing); the count itself is tested with unclock alone."""
    line = unclock(line)
    return re.sub(r"(?:新|Act:) \d+ (?=%s)" % CLOCK, lambda m: " " * text_width(m.group()),
                  line)


def status_line(cols, online, name=ME, server="127.0.0.1:9797", state="已连接", lang="zh",
                activity=0):
    """The whole status line as the sender draws it (sender._status_right's rule: the
    right third holds activity, clock and name, the clock dropped first)."""
    left = " %s | %s | %s" % (server, render.tr(lang, "online", count=online), state)
    act = [render.tr(lang, "activity", count=activity)] if activity else []
    for parts in (act + [CLOCK], act, []):
        right = " ".join(parts + [name]) + " "
        if text_width(right) <= cols // 3:
            break
    left = truncate_to_width(left, cols - text_width(right) - 1)
    return left + " " * (cols - text_width(left) - text_width(right)) + right


def shown(event, lang="zh"):
    return "".join(part for part, _ in
                   render.render(event, lang, ME, 4242, time.gmtime))


def stream_line(i):
    name = tui_fake.STREAM_NAMES[i % len(tui_fake.STREAM_NAMES)]
    return shown(P.Event(0, tui_fake.T0, P.EV_CHAT, name=name, text=tui_fake.stream_text(i)))


def latest_message(lines):
    """The number of the newest stream line on the screen, or -1."""
    found = [int(m.group(1)) for l in lines for m in [re.search(r"消息 (\d{4})", l)] if m]
    return max(found) if found else -1


def wait_message(term, number, timeout=15.0):
    term.wait_for(lambda lines, _: latest_message(lines) >= number, timeout,
                  "stream line %d" % number)


def joined(term):
    return term.wait_text("%s 进入了聊天室" % ME)


def expected_screen(cols, rows, pane_lines, online, input_text, input_col, name=ME):
    """A whole screen: the pane's last lines (no wrapping needed), status, input."""
    pane = pane_lines[-(rows - 2):]
    pane += [""] * (rows - 2 - len(pane))
    return pane + [status_line(cols, online, name), "> " + input_text], (2 + input_col, rows - 1)


def wait_exact(term, lines, cursor=None, timeout=10.0):
    """term.wait_screen with clock and activity masked (expected_screen's lines have
    CLOCK and no activity; screens taken earlier are masked the same way)."""
    return term.wait_screen([masked(l) for l in lines], cursor, timeout, normalise=masked)


# ---------------------------------------------------------------- the paint protocol

def test_stream_while_typing_ends_exact(tmp_path):
    """1000 lines at 200/s while `hello 世界` is typed, with x+Backspace and Left/Right."""
    script = {"online": ["张三"], "stream": {"count": 1000, "rate": 200, "start": 0.3}}
    keys = list("hello") + [" ", "世", "x", "backspace", "界", "left", "left", "right", "right"]
    with fake_client(tmp_path, script) as term:
        joined(term)
        for i, key in enumerate(keys):
            wait_message(term, 40 * i + 20)       # interleave the keys with the stream
            term.type(key)
        lines, cursor = wait_exact(term, *expected_screen(
            80, 24, [stream_line(i) for i in range(1000)], 2, "hello 世界", 10))
        # Keys typed after the stream stopped change no message row (the status line
        # loses its activity count: a key was pressed).
        term.type("!", "left", "backspace", "right")
        # The input row and the status row are painted by different processes: wait
        # for both (the count's clearing can come a moment after the input's echo).
        after, _ = term.wait_for(lambda l, c: l[23].rstrip() == "> hello 世!" and c == (11, 23)
                                 and unclock(l[22]) == status_line(80, 2),
                                 what="edited input, activity count cleared")
        assert after[:22] == lines[:22]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_edit_stress(tmp_path, seed):
    """Random edit keys while 2000 lines stream in. Every 50 ms a frame is sampled: the
    status line must be intact, the input line must start with the prompt, and no
    sentinel may leak; a frame caught mid-paint may show damage, but not the same
    damage in two samples running. The end is exact."""
    rng = random.Random(seed)
    script = {"online": ["张三"], "stream": {"count": 2000, "rate": 400, "start": 0.3}}
    model = LineEditor()
    choices = ["left", "right", "home", "end", "backspace", "delete", "^A", "^E", "^W", "^K",
               "a", "b", " ", "你", "好", "é", "世界"]
    status = status_line(80, 2)
    samples = []
    stop = threading.Event()

    def damage(lines):
        found = {("sentinel", y) for y, line in enumerate(lines) if "~" in line}
        if masked(lines[22]) != status:
            found.add(("status", lines[22]))
        if not lines[23].startswith("> "):
            found.add(("input", lines[23]))
        return found

    def sample_every_50ms(term):
        while not stop.wait(0.05):
            samples.append(damage(term.snapshot()[0]))

    with fake_client(tmp_path, script) as term:
        joined(term)
        sampler = threading.Thread(target=sample_every_50ms, args=(term,))
        sampler.start()
        typed = 0
        try:
            while typed < 150:
                key = rng.choice(choices)
                if len(key) == 1 or key == "世界":
                    if text_width(model.text) > 60:
                        continue                  # stay clear of horizontal scrolling
                    model.insert(key)
                else:
                    model.handle(key)
                term.type(key)
                typed += 1
                wait_message(term, typed * 12)
        finally:
            stop.set()
            sampler.join()
        text, col = model.view(78)
        wait_exact(term, *expected_screen(80, 24, [stream_line(i) for i in range(2000)], 2,
                                          text, col), timeout=20)
    assert len(samples) > 20
    persisting = [a & b for a, b in zip(samples, samples[1:]) if a & b]
    assert not persisting, persisting[:3]


def test_resize_sequence_while_streaming(tmp_path):
    script = {"online": ["张三"], "stream": {"count": 800, "rate": 200, "start": 0.3}}
    with fake_client(tmp_path, script) as term:
        joined(term)
        term.type("hi 世界")
        for number, (rows, cols) in zip((100, 250, 400), ((30, 100), (16, 60), (20, 72))):
            wait_message(term, number)
            term.resize(rows, cols)
        wait_exact(term, *expected_screen(72, 20, [stream_line(i) for i in range(800)], 2,
                                          "hi 世界", 7), timeout=15)


def test_paste_of_wide_characters_then_backspace(tmp_path):
    with fake_client(tmp_path, {}) as term:
        joined(term)
        term.send("你好世界".encode())             # an IME commit: four code points at once
        term.wait_for(lambda l, c: l[23].rstrip() == "> 你好世界" and c == (10, 23),
                      what="pasted text")
        term.type("backspace")
        term.wait_for(lambda l, c: l[23].rstrip() == "> 你好世" and c == (8, 23),
                      what="one wide character less")


def test_long_input_scrolls_horizontally_with_the_cursor_visible(tmp_path):
    with fake_client(tmp_path, {}, lines=10, cols=30) as term:
        joined(term)
        term.send(("一二三四五六七八九十" * 3).encode())
        _, cursor = term.wait_for(lambda l, c: l[9].rstrip().endswith("九十"), what="scrolled")
        assert cursor[0] <= 29 and text_width(term.snapshot()[0][9].rstrip()) <= 29
        term.type("home")
        term.wait_for(lambda l, c: l[9].startswith("> 一二三") and c == (2, 9), what="home")


# ---------------------------------------------------------------- exits

ORDERLY = ("quit", "ctrl_c", "ctrl_d", "sigterm", "sighup")


def exit_by(term, how):
    """End the client one way; return (sender pid, receiver pid)."""
    parent = term.proc.pid
    child = children_of(parent)[0]
    if how in ("quit", "ctrl_c", "ctrl_d"):
        term.type(*{"quit": ("/quit", "enter"), "ctrl_c": ("abc", "^C"), "ctrl_d": ("^D",)}[how])
    elif how == "sighup":
        term.hang_up()
    else:
        signum = signal.SIGKILL if how.startswith("kill") else signal.SIGTERM
        os.kill(child if how.endswith("child") else parent, signum)
    return parent, child


@pytest.mark.parametrize("how", ORDERLY + ("kill_parent", "kill_child", "term_child"))
def test_every_exit_ends_both_processes_and_restores_the_terminal(tmp_path, how):
    with fake_client(tmp_path, {"online": ["张三"]}) as term:
        joined(term)
        parent, child = exit_by(term, how)
        started = time.monotonic()
        # With the sender SIGKILLed, reaping the receiver is init's job, not ours.
        child_gone = (None, "Z") if how == "kill_parent" else (None,)
        while time.monotonic() - started < 1.5:
            if process_state(parent) in (None, "Z") and process_state(child) in child_gone:
                break
            time.sleep(0.01)
        assert process_state(child) in child_gone, "receiver still there (or a zombie)"
        assert process_state(parent) in (None, "Z"), "sender still running"
        term.proc.wait(1)
        if how != "sighup":
            modes = term.tty_modes()
            assert modes & termios.ICANON and modes & termios.ECHO
            term.wait_for(lambda l, c: b"\x1b[?2004l" in term.raw and b"\x1b[?1049l" in term.raw,
                          timeout=2, what="bracketed paste off, normal screen back")
    made = [c["call"] for c in calls(tmp_path)]
    if how != "kill_child":
        assert "leave" in made                   # the room sees the leave at once
    assert not (tmp_path / "crash.log").exists()


# ---------------------------------------------------------------- login

def test_taken_name_is_refused_and_asked_again(tmp_path):
    with fake_client(tmp_path, {"taken": ["taken"]}, "--name", "taken") as term:
        term.wait_text("服务器拒绝了: 名字已被占用 (名字 taken 已被占用)")
        term.wait_for(lambda l, c: l[23].rstrip() == "名字: taken" and c == (11, 23),
                      what="the name offered again")
        term.type("^U", ME, "enter")
        joined(term)
    assert [c.get("name") for c in calls(tmp_path) if c["call"] in ("connect", "rename")] == \
        ["taken", ME]


def test_name_prompt_checks_names_locally(tmp_path):
    with fake_client(tmp_path, {}, "--port", "9797") as term:
        term.wait_text("请输入你的名字")
        term.type("a:b", "enter")
        term.wait_text("名字不可用: 名字里不能有冒号")
        term.type("^U", ME, "enter")
        joined(term)


def test_unreachable_server_is_shown_and_retried(tmp_path):
    with fake_client(tmp_path, {"unreachable_for": 3.5}) as term:
        term.wait_text("无法连接 127.0.0.1:9797，正在重试")
        joined(term)
        term.wait_for(lambda l, c: unclock(l[22]) == status_line(80, 1), what="status")


def test_resize_during_login(tmp_path):
    with fake_client(tmp_path, {"unreachable_for": 1.5, "online": ["张三"]}) as term:
        term.wait_text("正在连接")
        term.resize(16, 60)
        joined(term)
        term.type("hi")
        lines, _ = term.wait_for(lambda l, c: len(l) == 16 and l[15].rstrip() == "> hi" and
                                 c == (4, 15), what="the new size after login")
        assert unclock(lines[14]) == status_line(60, 2)


def test_ctrl_c_at_the_name_prompt_after_a_refusal_exits_0(tmp_path):
    with fake_client(tmp_path, {"taken": ["taken"]}, "--name", "taken") as term:
        term.wait_for(lambda l, c: l[23].rstrip() == "名字: taken", what="asked again")
        term.type("^C")
        assert term.wait_exit(3) == 0            # a deliberate quit, not "refused" (3)
        assert term.tty_modes() & termios.ICANON


def test_a_resize_at_the_name_prompt_keeps_its_hint(tmp_path):
    with fake_client(tmp_path, {}, "--port", "9797") as term:
        term.wait_text("请输入你的名字 (Ctrl-C 退出)")
        term.type("ab")
        term.wait_for(lambda l, c: l[23].rstrip() == "名字: ab", what="typed")
        term.resize(16, 60)
        lines, _ = term.wait_for(lambda l, c: len(l) == 16 and l[15].rstrip() == "名字: ab"
                                 and c == (8, 15), what="the prompt at the new size")
        term.wait_for(lambda l, c: l[0].rstrip() == "-- 请输入你的名字 (Ctrl-C 退出)",
                      what="the hint repainted")


def test_stop_and_fg_at_the_name_prompt_repaint_it_and_keys_stay_raw(tmp_path):
    """Before the fork one process owns the terminal: after SIGSTOP, a shell's
    modes and output, and SIGCONT, the prompt is back whole and typing goes on."""
    with fake_client(tmp_path, {}, "--port", "9797") as term:
        term.wait_text("请输入你的名字 (Ctrl-C 退出)")
        term.type("ab")
        lines, cursor = term.wait_for(lambda l, c: l[23].rstrip() == "名字: ab", what="typed")
        assert children_of(term.proc.pid) == []            # not forked yet
        os.kill(term.proc.pid, signal.SIGSTOP)
        term.wait_for(lambda l, c: process_state(term.proc.pid) == "T", timeout=5,
                      what="stopped")
        shell = termios.tcgetattr(term.slave)
        shell[3] |= termios.ICANON | termios.ECHO | termios.ECHOCTL
        termios.tcsetattr(term.slave, termios.TCSANOW, shell)
        os.write(term.slave, b"\x1b[2J\x1b[H[1]+  Stopped    chat.pyz client\r\n$ fg\r\n")
        term.wait_text("[1]+  Stopped")
        os.kill(term.proc.pid, signal.SIGCONT)
        term.wait_screen(lines, cursor)                      # the prompt repainted whole
        modes = term.tty_modes()
        assert not modes & termios.ICANON and not modes & termios.ECHO
        term.type("c")
        term.wait_for(lambda l, c: l[23].rstrip() == "名字: abc", what="typing goes on")


def test_the_reason_a_server_is_unreachable_is_shown_whole(tmp_path):
    reason = "那个端口上没有聊天服务器（连接被拒绝）"       # the hint's key, in the UI's words
    with fake_client(tmp_path, {"unreachable_for": 60}, lines=12, cols=40) as term:
        # In the pane, wrapped, not cut off by the status line's width.
        term.wait_for(lambda l, c: ("-- 原因: " + reason).replace(" ", "") in
                      "".join(l[:10]).replace(" ", ""), what="the whole reason")
        term.type("^C")
        assert term.wait_exit(3) == 4
    assert ("chat.pyz: 无法连接 127.0.0.1:9797: %s" % reason).encode() in bytes(term.raw)


def test_ctrl_c_leaves_the_login(tmp_path):
    with fake_client(tmp_path, {"unreachable_for": 60}) as term:
        term.wait_text("正在连接")
        term.type("^C")
        assert term.wait_exit(3) == 4            # ExitCode.UNREACHABLE
        assert term.tty_modes() & termios.ICANON


# ---------------------------------------------------------------- kicked, banned, pending

KICKED = re.compile(r"你被管理员移出了聊天室 \(原因: 刷屏\)。\d\d:\d\d 以后可以重新运行客户端加入")


def test_kicked_says_so_takes_no_more_input_and_exits_3_after_a_key(tmp_path):
    script = {"online": ["张三"], "farewell": [0.5, P.BYE_KICKED, "kicked by the admin: 刷屏",
                                              P.ReasonCode.KICKED, 300, "刷屏"]}
    with fake_client(tmp_path, script) as term:
        joined(term)
        term.type("typed before")
        term.wait_for(lambda l, c: any(KICKED.search(row) for row in l), what="kicked")
        left = " 127.0.0.1:9797 | 连接已关闭"            # closed: no online count
        right = CLOCK + " " + ME + " "                  # the clock stays, masked here
        term.wait_for(lambda l, c: unclock(l[22]) == left + " " * (80 - text_width(left)
                                                                    - text_width(right)) + right,
                      what="the status: closed")
        term.wait_for(lambda l, c: re.fullmatch(r"按任意键退出 \(\d 秒后自动退出\)",
                                                l[23].rstrip()), what="how it ends")
        term.type("x")
        assert term.wait_exit(3) == 3                  # ExitCode.REFUSED
        assert term.tty_modes() & termios.ICANON
    assert not [c for c in calls(tmp_path) if c["call"] == "say"]


def test_banned_in_english_ends_by_itself(tmp_path):
    script = {"farewell": [0.3, P.BYE_BANNED, "you are banned for 10 more minutes (rude)",
                           P.ReasonCode.BANNED_NAME, 600, "rude"]}
    with fake_client(tmp_path, script, "--name", ME, "--lang", "en") as term:
        term.wait_text("me joined the room")
        lines, _ = term.wait_for(lambda l, c: any(
            re.search(r"The admin banned you from the room until \d\d:\d\d \(reason: rude\)",
                      row) for row in l), what="banned, until when")
        started = time.monotonic()
        assert term.wait_exit(12) == 3
        assert time.monotonic() - started > 5           # not at once: there was time to read


def test_a_line_typed_while_away_is_shown_pending_then_replaced_by_its_echo(tmp_path):
    script = {"online": ["张三"], "away": [0.3, 2.5]}
    with fake_client(tmp_path, script) as term:
        joined(term)
        term.wait_text("| 正在重连…")
        term.type("断线时写的", "enter")
        lines, _ = term.wait_text("me : 断线时写的 (待发送)")
        row = next(y for y, l in enumerate(lines) if "断线时写的" in l)
        x = lines[row].index("me : ")
        with term._lock():
            assert not term.screen.buffer[row][x].bold           # not our bold name: dim
        # pyte keeps no dim: the attribute set last before the line's text.
        raw = bytes(term.raw)
        before = raw[:raw.index("me : 断线时写的 (待发送)".encode())]
        last_sgr = re.findall(rb"\x1b\[([0-9;]*)m", before)[-1]
        assert b"2" in last_sgr.split(b";"), before[-40:]
        lines, _ = term.wait_for(lambda l, c: "| 已连接" in l[22] and any(
            r.rstrip().endswith("me : 断线时写的") for r in l), what="the echo in its place")
        assert sum("断线时写的" in l for l in lines) == 1        # once, not twice
        assert next(y for y, l in enumerate(lines) if "断线时写的" in l) == row


# ---------------------------------------------------------------- the room

def test_history_first_and_marked_then_live(tmp_path):
    script = {"history": [["张三", "早上好"], ["lisi", "hi"]], "online": ["张三"]}
    with fake_client(tmp_path, script) as term:
        lines, _ = joined(term)
        text = "\n".join(lines)
        order = [text.index(s) for s in ("张三 : 早上好", "lisi : hi", "以上是历史消息",
                                         "me 进入了聊天室")]
        assert order == sorted(order)


def test_scrollback_holds_its_place_while_messages_arrive(tmp_path):
    script = {"stream": {"count": 300, "rate": 50, "start": 0.2}}
    with fake_client(tmp_path, script) as term:
        joined(term)
        wait_message(term, 60)
        term.type("pgup")
        lines, _ = term.wait_for(lambda l, c: "下面有" in l[21] or "正在回看" in l[21],
                                 what="scrolled back")
        top = lines[0]
        wait_message_count = latest_message(lines)
        lines, _ = term.wait_for(lambda l, c: re.search(r"下面有 (\d+) 条新消息", l[21]) and
                                 int(re.search(r"(\d+) 条", l[21]).group(1)) >= 20,
                                 what="new messages counted below")
        assert lines[0] == top and latest_message(lines) == wait_message_count
        for _ in range(30):
            term.type("pgdn")
        term.wait_for(lambda l, c: "下面有" not in l[21] and latest_message(l) > 90,
                      what="back at the bottom, following")


CODE = "def f(x):\n    if x:\n\treturn 1\n    return 2\n"     # a tab: one tab stop (8)


def test_multi_line_paste_is_one_message_that_keeps_its_shape(tmp_path):
    with fake_client(tmp_path, {}) as term:
        joined(term)
        term.paste(CODE.replace("\n", "\r\n"))   # terminals paste CR or CR LF line ends
        term.wait_for(lambda l, c: l[23].rstrip() ==
                      "> def f(x):\u21b5    if x:\u21b5        return 1\u21b5    return 2",
                      what="the paste in the input line, its line breaks shown as marks")
        assert not [c for c in calls(tmp_path) if c["call"] == "say"]   # Enter not sent
        term.type("enter")
        lines, _ = term.wait_text("me : def f(x):")
        top = next(y for y, line in enumerate(lines) if "me : def f(x):" in line)
        indent = " " * len("[00:00] me : ")
        assert [line.rstrip() for line in lines[top:top + 4]] == [
            lines[top][:len(indent)] + "def f(x):",
            indent + "    if x:",
            indent + "        return 1",
            indent + "    return 2"]
    assert [c["text"] for c in calls(tmp_path) if c["call"] == "say"] == [
        "def f(x):\n    if x:\n        return 1\n    return 2"]


def test_a_paste_taller_than_a_message_is_sent_as_several_at_line_breaks(tmp_path):
    rows = ["line %02d" % i for i in range(30)]
    with fake_client(tmp_path, {}, lines=40) as term:
        joined(term)
        term.paste("\n".join(rows))
        term.type("enter")
        term.wait_text("消息较长，分成 2 条发送")
        lines, _ = term.wait_text("line 29")
        first = next(y for y, line in enumerate(lines) if line.rstrip().endswith("me : line 00"))
        second = next(y for y, line in enumerate(lines) if line.rstrip().endswith("me : line 24"))
        assert second == first + 24 and lines[first + 23].rstrip() == \
            " " * len("[00:00] me : ") + "line 23"
    assert [c["text"] for c in calls(tmp_path) if c["call"] == "say"] == ["\n".join(rows)]


def test_too_long_paste_is_refused_visibly(tmp_path):
    with fake_client(tmp_path, {}) as term:
        joined(term)
        term.paste("x" * 20000)
        term.wait_text("输入过长 (20000 字节，上限 %d)" % MAX_INPUT_BYTES)
        assert term.snapshot()[0][23].rstrip() == ">"


def test_commands(tmp_path):
    typed_and_shown = [
        ("/help", "/msg 名字 内容"),
        ("/frob", "未知命令 /frob，输入 /help 查看命令"),
        ("/me 挥手", "* me 挥手"),
        ("/msg 张三 悄悄话", "你悄悄对 张三 说: 悄悄话"),
        ("/msg nobody hi", "没有这个人: nobody"),
        ("/who", "在线 2 人: me, 张三"),
        ("//etc", "me : /etc"),
        ("/hand-in", "用法: /hand-in 文件路径（或 /交作业 文件路径）"),
        ("/交作业 ~/作业.txt", "无法提交: no such file: " + os.path.expanduser("~/作业.txt")),
    ]
    with fake_client(tmp_path, {"online": ["张三"]}) as term:
        joined(term)
        for line, answer in typed_and_shown:
            term.type(line, "enter")
            term.wait_text(answer)
    made = [(c["call"], c.get("name"), c.get("text")) for c in calls(tmp_path)]
    assert ("emote", None, "挥手") in made and ("private", "张三", "悄悄话") in made
    assert made.count(("who", None, None)) == 2      # one silent, for Tab completion
    assert ("hand_in", None, os.path.expanduser("~/作业.txt")) in made


def test_tab_completes_names_recent_speakers_first(tmp_path):
    script = {"online": ["张三", "张三丰"],
              "events": [{"kind": P.EV_CHAT, "name": "张三丰", "text": "hi", "origin": 3}]}
    with fake_client(tmp_path, script) as term:
        term.wait_text("张三丰 : hi")
        term.type("张", "tab")
        term.wait_for(lambda l, c: l[23].rstrip() == "> 张三丰:" and c == (10, 23), what="tab")
        term.type("tab")
        term.wait_for(lambda l, c: l[23].rstrip() == "> 张三:", what="second tab")


def test_hostile_names_and_huge_messages_cannot_break_the_layout(tmp_path):
    evil = "ev\x1b[2J\x1b[1;1Hil"
    script = {"online": ["张三"], "events": [
        {"kind": P.EV_JOIN, "name": evil, "online": 2},
        {"kind": P.EV_CHAT, "name": evil, "text": "\x1b[31mred\x1b]0;title\x07\r\nnext",
         "origin": 3},
        {"kind": P.EV_CHAT, "name": "张三", "text": "长" * 300 + "x" * 400, "origin": 3},
        {"kind": P.EV_CHAT, "name": "张三", "text": "end", "origin": 3}]}
    with fake_client(tmp_path, script, lines=12, cols=40) as term:
        # Both processes paint after the join, in either order: wait for both.
        lines, cursor = term.wait_for(
            lambda l, c: any("张三 : end" in row for row in l) and
            unclock(l[10]) == status_line(40, 2, activity=3) and l[11].rstrip() == ">" and
            c == (2, 11), what="the last line and the status")
        assert all(text_width(l) == 40 for l in lines)
        term.type("abc")                        # a key: the activity count goes
        term.wait_for(lambda l, c: l[11].rstrip() == "> abc" and l[:10] == lines[:10] and
                      unclock(l[10]) == status_line(40, 2), what="typing after hostile input")


def test_admin_notices_stand_out(tmp_path):
    script = {"events": [{"kind": P.EV_ADMIN, "name": "admin", "text": "下课前提交作业"}]}
    for env, looks_right in (({}, lambda cell: cell.bg == "red" and cell.bold),
                             ({"NO_COLOR": "1"}, lambda cell: cell.reverse and cell.bold)):
        with fake_client(tmp_path, script, env=env) as term:
            lines, _ = term.wait_text("管理员消息: 下课前提交作业")
            y = next(i for i, l in enumerate(lines) if "管理员消息" in l)
            x = lines[y].index("管理员消息")
            with term._lock():
                cell = term.screen.buffer[y][x]   # text left of it is ASCII: index = column
            assert looks_right(cell), cell


def test_input_history_up_and_down(tmp_path):
    with fake_client(tmp_path, {}) as term:
        joined(term)
        term.type("one", "enter", "two", "enter", "dra", "up", "up")
        term.wait_for(lambda l, c: l[23].rstrip() == "> one" and c == (5, 23), what="history")
        term.type("down", "down")
        term.wait_for(lambda l, c: l[23].rstrip() == "> dra" and c == (5, 23), what="draft")


def test_long_line_is_split_visibly(tmp_path):
    with fake_client(tmp_path, {}) as term:
        joined(term)
        term.paste("长" * 700)                   # 2100 bytes: three protocol messages
        term.type("enter")
        term.wait_text("消息较长，分成 3 条发送")
    assert [len(c["text"]) for c in calls(tmp_path) if c["call"] == "say"] == [700]


def test_tiny_terminal_then_back(tmp_path):
    with fake_client(tmp_path, {"online": ["张三"]}) as term:
        joined(term)
        term.type("hi")
        term.resize(2, 10)
        term.resize(1, 3)
        term.resize(24, 80)
        term.type("!")
        lines, _ = term.wait_for(lambda l, c: l[23].rstrip() == "> hi!" and c == (5, 23),
                                 what="input back after a tiny size")
        assert unclock(lines[22]) == status_line(80, 2) and "me 进入了聊天室" in "\n".join(lines)


def test_bell_on_mention_only_when_asked(tmp_path):
    script = {"events": [{"kind": P.EV_CHAT, "name": "张三", "text": "hello me!", "origin": 3}]}
    with fake_client(tmp_path, script, "--name", ME, "--bell", "mention") as term:
        term.wait_text("hello me!")
        term.wait_for(lambda l, c: b"\x07" in term.raw, timeout=3, what="a bell")
    with fake_client(tmp_path, script, "--name", ME, "--bell", "off") as term:
        term.wait_text("hello me!")
        term.type("/quit", "enter")
        term.wait_exit(3)
        assert b"\x07" not in term.raw


def test_english_texts(tmp_path):
    with fake_client(tmp_path, {"online": ["Zhang"]}, "--name", ME, "--lang", "en") as term:
        term.wait_text("me joined the room")
        term.wait_for(lambda l, c: unclock(l[22]) == status_line(80, 2, state="connected",
                                                                 lang="en"), what="status")


@pytest.mark.parametrize("env", [{"TERM": "vt100"}, {"NO_COLOR": "1"}, {"TERM": "linux"},
                                 {"TERM": "screen"}])
def test_plain_terminals(tmp_path, env):
    script = {"online": ["张三"], "stream": {"count": 100, "rate": 200, "start": 0.2}}
    with fake_client(tmp_path, script, env=env) as term:
        joined(term)
        term.type("hi 世界")
        wait_exact(term, *expected_screen(80, 24, [stream_line(i) for i in range(100)], 2,
                                          "hi 世界", 7))
        if env.get("TERM") == "vt100" or "NO_COLOR" in env:
            assert not re.search(rb"\x1b\[[0-9;]*3[0-7]m", bytes(term.raw)), "colour used"


def test_ctrl_l_redraws_damage(tmp_path):
    with fake_client(tmp_path, {"online": ["张三"]}) as term:
        lines, cursor = joined(term)
        term.type("hi")
        lines, cursor = term.wait_for(lambda l, c: l[23].startswith("> hi"), what="typed")
        with term._lock():                      # garbage from another program
            term.stream.feed(b"\x1b[5;5HGARBAGE\x1b[23;1HJUNK")
        term.type("^L")
        wait_exact(term, lines, cursor)


def test_a_stopped_sender_neither_stalls_the_receiver_nor_loses_its_messages(tmp_path):
    """SIGSTOP the sender, then stream 2000 lines, each from a new speaker: every line
    changes the Tab names the receiver sends up, far more than the socket holds.
    The receiver must go on reading and painting (its sends queue: no blocking, no
    spinning on a full socket), and after SIGCONT the sender must catch up in order:
    at the end Tab offers the last speaker, then the one before."""
    count = 2000
    script = {"stream": {"count": count, "rate": 1000, "start": 1.0,
                         "names": ["ab%04d" % i for i in range(count)]}}
    with fake_client(tmp_path, script) as term:
        joined(term)
        term.wait_for(lambda l, c: unclock(l[22]) == status_line(80, 1) and c == (2, 23),
                      what="the sender's last paint before the stream")
        sender = term.proc.pid
        receiver = children_of(sender)[0]
        os.kill(sender, signal.SIGSTOP)
        try:
            wait_message(term, count - 1)     # drawn by the receiver alone
            assert any(c["call"] == "stream_done" for c in calls(tmp_path))
            before, started = cpu_seconds(receiver), time.monotonic()
            term.wait_for(lambda l, c: time.monotonic() - started > 1.0, timeout=3,
                          what="1 s with the sender stopped")
            busy = (cpu_seconds(receiver) - before) / (time.monotonic() - started)
            assert busy < 0.1, "the receiver spins on its full channel"
        finally:
            os.kill(sender, signal.SIGCONT)
        # Keys typed while the backlog drains see the names of that moment: ask again
        # until the last speaker (who spoke only last) comes first.
        last = "> ab%04d:" % (count - 1)
        deadline = time.monotonic() + 15
        while True:
            term.type("^U", "ab", "tab")
            lines, _ = term.wait_for(lambda l, c: l[23].rstrip().endswith(":"),
                                     what="a completion")
            if lines[23].rstrip() == last:
                break
            assert time.monotonic() < deadline, "the sender never got the last names"
        term.type("tab")
        term.wait_for(lambda l, c: l[23].rstrip() == "> ab%04d:" % (count - 2),
                      what="then the one before")


def test_idle_client_uses_almost_no_cpu(tmp_path):
    with fake_client(tmp_path, {"online": ["张三"]}) as term:
        joined(term)
        pids = [term.proc.pid] + children_of(term.proc.pid)
        before = sum(cpu_seconds(p) for p in pids)
        started = time.monotonic()
        term.wait_for(lambda l, c: time.monotonic() - started > 3, timeout=5, what="3 s idle")
        used = sum(cpu_seconds(p) for p in pids) - before
        assert used / (time.monotonic() - started) < 0.01


@pytest.mark.skipif(not TMUX, reason="tmux is not installed")
def test_in_tmux_typing_while_streaming_and_resize(tmp_path):
    """tmux is a real terminal: real resizes (it moves rows when shrinking), real widths."""
    script = {"online": ["张三"], "stream": {"count": 600, "rate": 200, "start": 0.3}}
    with fake_client(tmp_path, script, terminal=TmuxTerminal) as term:
        joined(term)
        term.type("hello 世界")
        for number, (rows, cols) in zip((100, 250, 400), ((30, 100), (16, 60), (20, 72))):
            wait_message(term, number)
            term.resize(rows, cols)
        wait_exact(term, *expected_screen(72, 20, [stream_line(i) for i in range(600)], 2,
                                          "hello 世界", 10), timeout=15)
# ---------------------------------------------------------------- irssi/readline keys, pane tools

ALT_B, ALT_F, ALT_D, ALT_Y = "\x1bb", "\x1bf", "\x1bd", "\x1by"
CTRL_LEFT, CTRL_RIGHT = "\x1b[1;5D", "\x1b[1;5C"          # xterm
RXVT_CTRL_LEFT, RXVT_CTRL_RIGHT = "\x1bOd", "\x1bOc"


def input_is(term, text, col, rows=24):
    """Wait for the input line to read `text` with the cursor `col` columns after "> "."""
    return term.wait_for(lambda l, c: l[rows - 1].rstrip() == ("> " + text).rstrip() and
                         c == (2 + col, rows - 1), what="input %r, cursor %d" % (text, col))


def test_word_keys_move_and_delete_by_words(tmp_path):
    with fake_client(tmp_path, {}) as term:
        joined(term)
        term.type("say hello 世界 now")
        input_is(term, "say hello 世界 now", 18)
        term.type(ALT_B)
        input_is(term, "say hello 世界 now", 15)         # before "now"
        term.type(ALT_B)
        input_is(term, "say hello 世界 now", 10)         # before "世界": one word
        term.type(CTRL_LEFT)
        input_is(term, "say hello 世界 now", 4)          # before "hello"
        term.type(ALT_D)
        input_is(term, "say  世界 now", 4)               # "hello" deleted, not "d" typed
        term.type(ALT_F)
        input_is(term, "say  世界 now", 9)               # after "世界"
        term.type(CTRL_RIGHT)
        input_is(term, "say  世界 now", 13)
        term.type(RXVT_CTRL_LEFT, RXVT_CTRL_LEFT)
        input_is(term, "say  世界 now", 5)
        term.type(RXVT_CTRL_RIGHT)
        input_is(term, "say  世界 now", 9)
        term.type("enter")
        term.wait_text("me : say  世界 now")
    assert [c["text"] for c in calls(tmp_path) if c["call"] == "say"] == ["say  世界 now"]


def test_ctrl_y_yanks_and_alt_y_rotates(tmp_path):
    with fake_client(tmp_path, {}) as term:
        joined(term)
        term.type("first", "^U", "second word", "^W")
        input_is(term, "second ", 7)
        term.type("^A", "^K")                            # ring: first, word, second
        input_is(term, "", 0)
        term.type("^Y")
        input_is(term, "second ", 7)
        term.type(ALT_Y)
        input_is(term, "word", 4)
        term.type(ALT_Y)
        input_is(term, "first", 5)
        term.type(" ", "^Y", "home", ALT_D, "end", "^Y")   # Alt-d's kill is the newest
        input_is(term, " second first", 13)


def test_ctrl_home_and_ctrl_end_in_the_pane(tmp_path):
    script = {"stream": {"count": 100, "rate": 200, "start": 1.0}}
    with fake_client(tmp_path, script) as term:
        first, _ = joined(term)
        oldest = first[0]                                # the pane is short: top-aligned
        wait_message(term, 99)
        term.type("\x1b[1;5H")                           # xterm Ctrl-Home
        lines, _ = term.wait_for(lambda l, c: l[0] == oldest and "正在回看" in l[21] and
                                 c == (2, 23), what="the oldest line at the top")
        assert latest_message(lines) < 99
        term.type("\x1b[8^")                             # rxvt Ctrl-End
        term.wait_for(lambda l, c: latest_message(l) == 99 and "消息 0099" in l[21],
                      what="the newest line at the bottom")
        term.type("\x1b[7^")                             # rxvt Ctrl-Home
        term.wait_for(lambda l, c: l[0] == oldest, what="the top again")
        term.type("\x1b[1;5F")                           # xterm Ctrl-End
        term.wait_for(lambda l, c: "消息 0099" in l[21], what="the bottom again")


def test_activity_count_and_clock_in_the_status_line(tmp_path):
    script = {"online": ["张三"], "stream": {"count": 5, "rate": 50, "start": 1.0}}
    with fake_client(tmp_path, script) as term:
        joined(term)
        term.type("hi", "enter")                         # the last key, before the stream
        lines, _ = term.wait_text("me : hi")
        assert latest_message(lines) == -1, "the stream began before our line"
        # 5, not 6: our own line (echoed after the last key) is not activity.
        lines, _ = term.wait_for(lambda l, c: latest_message(l) == 4 and
                                 unclock(l[22]) == status_line(80, 2, activity=5),
                                 what="5 messages from others since the last key")
        clock = re.search(r" (\d\d:\d\d) me $", lines[22]).group(1)
        # The clock is the local time (TZ=UTC here), allowing for a minute turning over.
        now = time.time()
        assert clock in {time.strftime("%H:%M", time.gmtime(now + d)) for d in (-60, 0)}
        term.type("x")                                   # any key: seen
        term.wait_for(lambda l, c: unclock(l[22]) == status_line(80, 2), what="count gone")


def test_status_line_drops_the_clock_first_on_a_narrow_terminal(tmp_path):
    script = {"online": ["张三"], "events": [
        {"kind": P.EV_CHAT, "name": "张三", "text": "hi", "origin": 3}]}
    with fake_client(tmp_path, script, "--name", "wu", lines=10, cols=36) as term:
        term.wait_text("张三 : hi")
        lines, _ = term.wait_for(lambda l, c: l[8].rstrip().endswith(" 新 1 wu"),
                                 what="count and name, no clock")
        assert unclock(lines[8]) == status_line(36, 2, name="wu", activity=1)
        term.type("x")
        term.wait_for(lambda l, c: unclock(l[8]).rstrip().endswith(" %s wu" % CLOCK) and
                      unclock(l[8]) == status_line(36, 2, name="wu"),
                      what="the clock when there is room")
        term.resize(10, 24)                              # too narrow for the clock too
        term.wait_for(lambda l, c: l[8].rstrip().endswith(" wu") and CLOCK not in unclock(l[8])
                      and unclock(l[8]) == status_line(24, 2, name="wu"), what="name only")


def test_clear_and_lastlog(tmp_path):
    script = {"online": ["张三"], "events": [
        {"kind": P.EV_CHAT, "name": "张三", "text": "Homework: 第三章", "origin": 3},
        {"kind": P.EV_CHAT, "name": "lisi", "text": "好的", "origin": 5},
        {"kind": P.EV_ADMIN, "name": "admin", "text": "下课前交 homework"}]}
    with fake_client(tmp_path, script) as term:
        term.wait_text("管理员消息: 下课前交 homework")
        term.type("/lastlog HOMEWORK", "enter")
        lines, _ = term.wait_text("-- 有 2 行包含 “HOMEWORK”:")
        at = next(i for i, l in enumerate(lines) if "有 2 行包含" in l)
        assert lines[at + 1].rstrip() == "-- [22:13] 张三 : Homework: 第三章"
        assert lines[at + 2].rstrip() == "-- [22:13] 管理员消息: 下课前交 homework"
        # The answer is not searched again: still 2, not 5.
        term.type("/lastlog homework", "enter")
        term.wait_text("-- 有 2 行包含 “homework”:")
        term.type("/lastlog 没有的", "enter")
        term.wait_text("-- 没有包含 “没有的” 的行")
        term.type("/lastlog", "enter")
        term.wait_text("-- 用法: /lastlog 文字")
        term.type("abc", "^U")
        input_is(term, "", 0)
        term.type("/clear", "enter")
        wait_exact(term, [""] * 22 + [status_line(80, 2), "> "], (2, 23))
        term.type("/lastlog homework", "enter")          # the pane's lines are gone
        term.wait_text("-- 没有包含 “homework” 的行")
        term.type("/help", "enter")
        term.wait_text("/lastlog 文字")
        term.wait_text("/clear")


def test_log_file_gets_every_shown_line(tmp_path):
    log = tmp_path / "chat.log"
    log.write_text("an earlier line\n")
    script = {"online": ["张三"], "events": [
        {"kind": P.EV_CHAT, "name": "张三", "text": "你好", "origin": 3}]}
    with fake_client(tmp_path, script, "--name", ME, "--log", str(log)) as term:
        term.wait_text("张三 : 你好")
        term.type("hi 世界", "enter")
        term.wait_text("me : hi 世界")
        term.type("/quit", "enter")
        assert term.wait_exit(3) == 0
    lines = log.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "an earlier line"                 # appended
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d "
    assert all(re.match(stamp, line) for line in lines[1:]), lines
    texts = [re.sub(stamp, "", line) for line in lines[1:]]
    assert "[22:13] me 进入了聊天室" in texts
    assert texts.index("[22:13] 张三 : 你好") < texts.index("[22:13] me : hi 世界")
    assert texts.count("[22:13] me : hi 世界") == 1


@pytest.mark.parametrize("path, why", [("/nonexistent-dir/chat.log", "没有这个文件或文件夹"),
                                       ("/", "这是一个文件夹")])
def test_log_file_that_cannot_be_opened_is_one_line_and_exit_1(tmp_path, path, why):
    """One line, and the OS's reason in the client's language (not strerror)."""
    with fake_client(tmp_path, {}, "--name", ME, "--log", path) as term:
        assert term.wait_exit(5) == 1
        lines, _ = term.wait_text("chat.pyz: 无法打开日志文件 %s: %s" % (path, why))
        text = "\n".join(l.rstrip() for l in lines).strip()
        assert len(text.splitlines()) == 1 and "Traceback" not in text, text
    assert not calls(tmp_path)                          # it never tried to connect


def test_stop_and_fg_repaint_both_windows_and_ctrl_l_works(tmp_path):
    """SIGSTOP the client (both processes), act as a shell does meanwhile (its own tty
    modes, its own output), then SIGCONT as `fg` does: the screen comes back whole
    and the keys are raw again, so Ctrl-L redraws instead of echoing ^L."""
    with fake_client(tmp_path, {"online": ["张三"]}) as term:
        joined(term)
        term.type("hi 世界")
        lines, cursor = term.wait_for(lambda l, c: l[23].rstrip() == "> hi 世界" and
                                      c == (9, 23) and
                                      unclock(l[22]) == status_line(80, 2), what="typed")
        group = term.proc.pid                            # a session leader: its group
        pids = [group] + children_of(group)
        assert len(pids) == 2
        os.killpg(group, signal.SIGSTOP)
        term.wait_for(lambda l, c: all(process_state(p) == "T" for p in pids), timeout=5,
                      what="both processes stopped")
        shell = termios.tcgetattr(term.slave)
        shell[3] |= termios.ICANON | termios.ECHO | termios.ECHOCTL
        termios.tcsetattr(term.slave, termios.TCSANOW, shell)
        os.write(term.slave, b"\x1b[2J\x1b[H[1]+  Stopped    chat.pyz client\r\n$ fg\r\n")
        term.wait_text("[1]+  Stopped")
        os.killpg(group, signal.SIGCONT)
        wait_exact(term, lines, cursor)                  # both windows repainted
        modes = term.tty_modes()
        assert not modes & termios.ICANON and not modes & termios.ECHO
        os.write(term.slave, b"\x1b[5;5HGARBAGE\x1b[24;1HJUNK")
        term.wait_text("GARBAGE")
        term.type("^L")
        wait_exact(term, lines, cursor)
        assert b"^L" not in term.raw
        term.type("!")                                   # and typing goes on
        input_is(term, "hi 世界!", 8)


# ---------------------------------------------------------------- the real chat.pyz

def tui_client(pyz, port, *options, lines=24, cols=80):
    return PtyTerminal([pyz, "client", HOST, "--port", str(port)] + list(options),
                       lines=lines, cols=cols, env={"TZ": "UTC"})


@pytest.fixture
def room(pyz, tmp_path):
    """A real server with lisi and wangwu in it (line-mode clients); lisi spoke first."""
    port = free_udp_port()
    server = start_server(pyz, port, tmp_path, stdin=subprocess.PIPE)  # stdin: admin lines
    procs = [server]
    try:
        lisi = start_client(pyz, port, "lisi", tmp_path)
        procs.append(lisi)
        lisi.send("早上好")
        wangwu = start_client(pyz, port, "wangwu", tmp_path)
        procs.append(wangwu)
        yield port, lisi, wangwu, server
    finally:
        for proc in reversed(procs):
            proc.stop()


def test_real_room_retry_name_history_private_and_leave(pyz, room):
    port, lisi, wangwu, server = room
    with tui_client(pyz, port, "--name", "lisi") as term:
        term.wait_text("服务器拒绝了")                         # the name is taken
        term.wait_for(lambda l, c: l[23].rstrip() == "名字: lisi", what="name offered again")
        term.type("^U", "张三", "enter")
        lines, _ = term.wait_text("张三 进入了聊天室")
        text = "\n".join(lines)
        assert text.index("lisi : 早上好") < text.index("以上是历史消息") < \
            text.index("张三 进入了聊天室")
        term.wait_text(" 127.0.0.1:%d | 在线 3 | 已连接" % port)
        lisi.wait_line(lambda line: line == "张三 进入了聊天室")
        term.type("/msg lisi 悄悄话", "enter")
        term.wait_text("你悄悄对 lisi 说: 悄悄话")
        lisi.wait_line(lambda line: "悄悄话" in line)
        term.type("大家好", "enter")
        term.wait_text("张三 : 大家好")                        # our own line, echoed
        wangwu.wait_line(lambda line: line == "张三 : 大家好")
        assert not any("悄悄话" in line for line in wangwu.seen), "private seen by a third"
        lisi.send("张三 在吗")
        term.wait_text("lisi : 张三 在吗")
        term.type("/who", "enter")
        term.wait_text("在线 3 人: ")
        server.send("下课前提交作业")
        term.wait_text("管理员消息: 下课前提交作业")
        term.type("/me 挥手", "enter")
        lisi.wait_line(lambda line: line == "* 张三 挥手")
        started = time.monotonic()
        term.type("/quit", "enter")
        wangwu.wait_line(lambda line: line == "张三 退出了聊天室", timeout=2)
        assert time.monotonic() - started < 1.5           # at once, not after a time-out
        assert term.wait_exit(2) == 0
        assert term.tty_modes() & termios.ICANON


@pytest.mark.parametrize("how", ["ctrl_c", "ctrl_d", "sigterm", "sighup", "kill_parent"])
def test_real_room_sees_every_exit_at_once(pyz, room, how):
    port, lisi, wangwu, _ = room
    with tui_client(pyz, port, "--name", "张三") as term:
        term.wait_text("张三 进入了聊天室")
        lisi.wait_line(lambda line: line == "张三 进入了聊天室")
        started = time.monotonic()
        _, child = exit_by(term, how)
        lisi.wait_line(lambda line: line == "张三 退出了聊天室", timeout=2)
        assert time.monotonic() - started < 1.5
        term.wait_exit(2)
        term.wait_for(lambda l, c: process_state(child) in (None, "Z"), timeout=1.5,
                      what="receiver gone")


BAR = re.compile(r"(接收|提交) (\S+) \[([#-]{20})\] +(\d+)% ")


def bar_percents(lines, name):
    """The percent of each progress bar for `name` on the screen."""
    return [int(m.group(4)) for m in (BAR.search(row) for row in lines)
            if m and m.group(2) == name]


def test_real_room_progress_bars_for_a_handout_and_a_hand_in(pyz, tmp_path):
    """Through a relay of 3 MB/s (so the transfers take a second or two): the
    curses client's pane shows a bar that advances, then fills, then the line."""
    port = free_udp_port()
    server = start_server(pyz, port, tmp_path, "--state", str(tmp_path / "state"),
                          stdin=subprocess.PIPE)
    relay = LossyRelay(port, loss=0.0, dup=0.0, max_delay=0.001, rate=3e6)
    handout = tmp_path / "讲义.bin"
    handout.write_bytes(os.urandom(4_000_000))
    homework = tmp_path / "hw.bin"
    homework.write_bytes(os.urandom(3_000_000))
    try:
        with tui_client(pyz, relay.port, "--name", "张三", "--downloads",
                        str(tmp_path / "dl"), lines=30, cols=100) as term:
            term.wait_text("张三 进入了聊天室")
            server.send("/send " + str(handout))
            seen = set()

            def advancing(lines, cursor):
                seen.update(p for p in bar_percents(lines, "讲义.bin") if 0 < p < 100)
                return len(seen) >= 2
            term.wait_for(advancing, timeout=30, what="a handout bar that advances")
            lines, _ = term.wait_text("收到文件: 讲义.bin", timeout=30)
            assert bar_percents(lines, "讲义.bin") == [100]        # one bar, filled
            stored = tmp_path / "dl" / "讲义.bin"
            assert stored.read_bytes() == handout.read_bytes()
            seen.clear()
            term.type("/交作业 " + str(homework), "enter")

            def advancing_out(lines, cursor):
                seen.update(p for p in bar_percents(lines, "hw.bin") if 0 < p < 100)
                return len(seen) >= 2
            term.wait_for(advancing_out, timeout=30, what="a hand-in bar that advances")
            lines, _ = term.wait_text("作业已提交: hw.bin", timeout=30)
            assert bar_percents(lines, "hw.bin") == [100]
            assert any("提交 hw.bin [####################] 100%" in row for row in lines)
    finally:
        relay.stop()
        server.stop()


def test_real_room_kick_is_shown(pyz, room):
    port, lisi, _, server = room
    with tui_client(pyz, port, "--name", "张三") as term:
        term.wait_text("张三 进入了聊天室")
        server.send("/kick 张三 刷屏")
        term.wait_for(lambda l, c: any(KICKED.search(row) for row in l), what="kicked")
        term.wait_text(" 127.0.0.1:%d | 连接已关闭 " % port)      # no online count
        lisi.wait_line(lambda line: line.startswith("张三 退出了聊天室"))
        term.type("x")                                       # any key ends it
        assert term.wait_exit(2) == 3                        # ExitCode.REFUSED


def test_real_room_a_line_the_quiet_server_has_not_taken_is_pending_after_a_second(pyz, room):
    port, lisi, _, server = room
    with tui_client(pyz, port, "--name", "张三") as term:
        term.wait_text("张三 进入了聊天室")
        term.type("早", "enter")
        term.wait_for(lambda l, c: any(r.rstrip().endswith("张三 : 早") for r in l),
                      what="the common case: the echo, no mark")
        os.kill(server.popen.pid, signal.SIGSTOP)        # the server goes quiet
        try:
            term.type("还在吗", "enter")
            started = time.monotonic()
            term.wait_text("张三 : 还在吗 (待发送)", timeout=5)
            assert time.monotonic() - started < 3        # not the 8 s of a lost server
            assert "| 已连接" in term.snapshot()[0][22]
        finally:
            os.kill(server.popen.pid, signal.SIGCONT)
        lines, _ = term.wait_for(lambda l, c: any(r.rstrip().endswith("张三 : 还在吗")
                                                  for r in l), what="the echo in its place")
        assert sum("还在吗" in r for r in lines) == 1
        lisi.wait_line(lambda line: line == "张三 : 还在吗")
        assert "早 (待发送)".encode() not in bytes(term.raw)   # never drawn: no flicker


def test_real_server_unreachable_then_started(pyz, tmp_path):
    port = free_udp_port()
    server = None
    try:
        with tui_client(pyz, port, "--name", "张三") as term:
            term.wait_text("无法连接 127.0.0.1:%d，正在重试" % port)
            server = start_server(pyz, port, tmp_path)
            term.wait_text("张三 进入了聊天室", timeout=15)
            term.type("^C")
            assert term.wait_exit(2) == 0
    finally:
        if server is not None:
            server.stop()


def test_real_room_reconnects_and_sends_what_was_typed_meanwhile(pyz, tmp_path):
    port = free_udp_port()
    server = start_server(pyz, port, tmp_path)
    observer = None
    try:
        with tui_client(pyz, port, "--name", "张三") as term:
            term.wait_text("张三 进入了聊天室")
            server.stop()                                  # SIGTERM: the server says goodbye
            term.wait_text("| 正在重连…")
            term.wait_text("服务器已关闭。它重新启动后客户端会自动重连")
            term.type("断线时写的", "enter")
            term.wait_text("张三 : 断线时写的 (待发送)")           # at once, marked
            server = start_server(pyz, port, tmp_path, name="server-again")
            observer = start_client(pyz, port, "lisi", tmp_path)
            # Live, or from the history if the client was back before lisi joined.
            if "张三 : 断线时写的" not in observer.collect():
                observer.wait_line(lambda line: line == "张三 : 断线时写的", timeout=15)
            term.wait_text(" | 在线 2 | 已连接", timeout=10)
            # The mark gone: the echo took the pending line's place, shown once.
            lines, _ = term.wait_for(lambda l, c: any(r.rstrip().endswith("张三 : 断线时写的")
                                                      for r in l), what="the echo")
            assert sum("断线时写的" in r for r in lines) == 1
            term.type("^C")
            term.wait_exit(2)
    finally:
        if observer is not None:
            observer.stop()
        server.stop()


def test_real_room_a_pasted_block_arrives_whole_in_curses_and_in_line_mode(pyz, room):
    port, lisi, _, server = room
    with tui_client(pyz, port, "--name", "张三") as term, \
            tui_client(pyz, port, "--name", "王五") as other:
        term.wait_text("张三 进入了聊天室")
        other.wait_text("王五 进入了聊天室")
        term.paste(CODE.replace("\n", "\r"))
        term.wait_text("\u21b5    return 2")
        term.type("enter")
        lines, _ = other.wait_text("        return 1")
        top = next(y for y, line in enumerate(lines) if "张三 : def f(x):" in line)
        indent = " " * text_width("[00:00] 张三 : ")
        assert [line.rstrip() for line in lines[top + 1:top + 4]] == [
            indent + "    if x:", indent + "        return 1", indent + "    return 2"]
        got = [lisi.wait_line(lambda line: "def f(x):" in line)]
        got += [lisi.wait_line(lambda line: True) for _ in range(3)]
        assert got == ["张三 : def f(x):", " |     if x:", " |         return 1",
                       " |     return 2"]
        term.type("^C")
        other.type("^C")
        term.wait_exit(2)
        other.wait_exit(2)


# 👩‍💻 👍🏽, as pyte shows them: pyte 0.8 keeps only combining marks of the zero-width
# characters, so the joiner is not on its screen (the cells and the cursor are).
CODER, THUMB = "\U0001f469\U0001f4bb", "\U0001f44d\U0001f3fd"
TYPED_CODER = "\U0001f469\u200d\U0001f4bb"


def test_emoji_sequences_are_one_step_for_the_cursor_and_delete_and_stay_whole(tmp_path):
    # (Flags are left out: pyte's wcwidth gives a regional indicator 2 columns, the C
    # library, and so ncurses, 1; docs/DESIGN.md, "Wide characters".)
    with fake_client(tmp_path, {}, cols=24) as term:
        joined(term)
        term.type("a" + TYPED_CODER + THUMB + "b")
        input_is(term, "a" + CODER + THUMB + "b", 10)
        term.type("left")
        input_is(term, "a" + CODER + THUMB + "b", 9)
        term.type("left")
        input_is(term, "a" + CODER + THUMB + "b", 5)
        term.type("backspace")                     # the whole 👩‍💻, joiner and all
        input_is(term, "a" + THUMB + "b", 1)
        term.type("delete")
        input_is(term, "ab", 1)
        term.type("end", "^U")
        term.paste("x" * 9 + TYPED_CODER * 2 + "\tq")   # a pasted tab: to column 24
        # 25 columns in a 22-column field: scrolled by whole clusters, cursor at the end
        input_is(term, "x" * 5 + CODER + CODER + " " * 7 + "q", 21)
        term.type("enter")
        # The pane wraps at 24 columns: "[00:00] me : " is 13, nine x's leave two
        # columns, too few for the 4-column 👩‍💻, which goes to the next row whole.
        term.wait_for(lambda l, c: any(
            a.rstrip().endswith("me : xxxxxxxxx") and b.rstrip() == CODER + CODER + " " * 7 + "q"
            for a, b in zip(l, l[1:])), what="the message, the emoji on the next row whole")
