"""Never crash on the environment: every locale and terminal, and stdin that is
/dev/null, closed or a file.

The client matrix runs the built chat.pyz in a real pty (pyte) against one real
headless server per module, with LANG and LC_ALL set to each locale (LC_ALL, so
that Python's own C-locale coercion does not hide the case) and TERM to each
terminal, unset included: no traceback anywhere, the client joins, Chinese from
another client is readable on the screen, at most one line of explanation.
The console runs a subset. `locale -a` here has C, C.utf8 and POSIX only, so
zh_CN.UTF-8 and en_US.UTF-8 are "not installed" cases.
"""
import locale
import os
import re
import select
import signal
import subprocess
import sys

import pytest
from chatproc import HOST, Proc, free_udp_port, start_client, start_server
from termharness import PtyTerminal

from app.ui import environment
from app.ui.width import text_width

pytestmark = pytest.mark.timeout(180)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOCALES = ("C", "POSIX", "C.UTF-8", "zh_CN.UTF-8", "en_US.UTF-8")
TERMS = ("xterm-256color", "screen", "linux", "vt100", "dumb", None)
LINE_MODE_TERMS = ("dumb", None)


installed = environment._installed        # the module's own probe


def env_argv(lang, term, lc_all=True):
    """`env` clearing what PtyTerminal sets, then setting the case's variables."""
    argv = ["env", "-u", "TERM", "-u", "LC_ALL", "-u", "LC_CTYPE", "LANG=" + lang, "TZ=UTC"]
    if lc_all:
        argv.append("LC_ALL=" + lang)
    if term:
        argv.append("TERM=" + term)
    return argv


def finish(term):
    """Everything the program wrote, once it has ended (the reader stopped and what
    was left in the pty drained)."""
    term._stop_reader()
    for _ in range(1000):
        if term.master < 0 or not select.select([term.master], [], [], 0.05)[0]:
            break
        try:
            data = os.read(term.master, 65536)
        except OSError:
            break
        if not data:
            break
        term.raw.extend(data)
    return bytes(term.raw).decode("utf-8", "replace")


def notes(output):
    return output.count("chat.pyz:")


# ---------------------------------------------------------------- pure parts

def test_utf8_candidates_keep_the_language_then_c_utf8_then_what_is_installed():
    names = environment.utf8_candidates("zh_CN.GB2312", ["C.utf8", "de_DE", "zh_TW.utf8"])
    assert names[:4] == ["zh_CN.UTF-8", "zh_CN.utf8", "C.UTF-8", "C.utf8"]
    assert names.index("zh_TW.utf8") < names.index("en_US.UTF-8") + 3
    assert "de_DE" not in names and len(names) == len(set(names))
    assert environment.utf8_candidates("C")[0] == "C.UTF-8"


def test_the_notes_are_one_line_in_either_language():
    no_cup = environment.Verdict(False, "no_cup", (("term", "dumb"),))
    assert no_cup.note("zh") == "chat.pyz: 终端 TERM=dumb 不能移动光标，无法全屏显示，改用行模式"
    assert no_cup.note("en", "console") == ("chat.pyz: TERM=dumb: no cursor movement; "
                                            "reading admin lines from stdin instead")
    used = environment.Verdict(True, "missing", (("wanted", "zh_CN.UTF-8"), ("used", "C.UTF-8")))
    assert used.note("zh") == "chat.pyz: 语言环境 zh_CN.UTF-8 没有安装，改用 C.UTF-8"
    assert environment.Verdict(True).note("zh") == ""
    for lang in ("zh", "en"):              # each fits 80 columns
        for key in ("no_term", "unknown_term", "no_cup", "no_utf8"):
            for instead in ("client", "console"):
                line = environment.Verdict(False, key, (("term", "dumb"),)).note(lang, instead)
                assert text_width(line) <= 80, line
        for key in ("missing", "not_utf8"):
            line = environment.Verdict(True, key, (("wanted", "zh_CN.UTF-8"),
                                                   ("used", "C.UTF-8"))).note(lang)
            assert text_width(line) <= 80, line


@pytest.fixture
def c_locale_process(monkeypatch):
    """This process under LC_ALL=C for a moment; its locale put back after."""
    saved = locale.setlocale(locale.LC_ALL)
    monkeypatch.setenv("LC_ALL", "C")
    yield
    locale.setlocale(locale.LC_ALL, saved)


def test_a_non_utf8_locale_is_replaced_by_an_installed_utf8_one(c_locale_process,
                                                                monkeypatch):
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")      # overridden by LC_ALL: not the one named
    verdict = environment.choose_locale()
    assert verdict.curses and verdict.key == "not_utf8"
    assert environment.is_utf8_codeset(locale.nl_langinfo(locale.CODESET))
    assert dict(verdict.values) == {"wanted": "C", "used": "C.UTF-8"}


def test_no_utf8_locale_at_all_means_no_curses(c_locale_process):
    # glibc 2.35+ builds C.UTF-8 in, so "none installed" cannot happen here for
    # real: the probe is told that every candidate is missing.
    tried = []
    def missing(name):
        tried.append(name)
        return False

    verdict = environment.choose_locale(missing)
    assert not verdict.curses and verdict.key == "no_utf8"
    assert "C.UTF-8" in tried
    assert verdict.note("zh") == "chat.pyz: 本机没有 UTF-8 语言环境，全屏无法显示中文，改用行模式"


@pytest.mark.parametrize("term, problem", [("dumb", "no_cup"), ("no-such-terminal",
                                                                  "unknown_term"),
                                           ("", "no_term"), (None, "no_term"),
                                           ("vt100", "None")])
def test_terminals_curses_cannot_drive(term, problem):
    # In a process of its own: Python's curses runs setupterm once per process.
    code = "from app.ui import environment; print(environment.terminal_problem(%r))" % term
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, timeout=20)
    assert result.stdout.strip() == problem, result.stderr


def test_the_matrix_has_its_uninstalled_locales():
    assert installed("C.UTF-8") and not installed("zh_CN.UTF-8")


# ---------------------------------------------------------------- one real room

@pytest.fixture(scope="module")
def room(pyz, tmp_path_factory):
    """A headless server and lisi (line mode), who says what each case waits for."""
    log_dir = tmp_path_factory.mktemp("environment")
    port = free_udp_port()
    server = start_server(pyz, port, log_dir)
    lisi = None
    try:
        lisi = start_client(pyz, port, "lisi", log_dir)
        yield port, lisi, log_dir
    finally:
        if lisi is not None:
            lisi.stop()
        server.stop()


def seen_by_lisi(name, verb):
    """lisi's line for `name`'s join or leave (`verb`: 进入 or 退出). The room
    says joins and leaves one by one at 2 a second after a burst of 40
    (hub.member_news_*), then as one count a second; this module's room sees
    every case come and go, so past the burst a case's news may come as the
    count: either line is the server having seen it."""
    def predicate(line):
        return line.startswith("%s %s了聊天室" % (name, verb)) or (
            "了聊天室（人太多，不逐一显示）" in line
            and re.search(r"(\d+) 人%s" % verb, line).group(1) != "0")
    return predicate


def own_join_shown(screen, name):
    """The client's own screen says it is in: its join, or, past the room's
    burst of join news, the count that includes it (a client gets only what
    comes after its join)."""
    screen.wait_for(lambda lines, _: any(name + " 进入了聊天室" in line
                                         or "了聊天室（人太多，不逐一显示）" in line
                                         for line in lines), 10, "%s's join" % name)


def client_case(pyz, room, number, lang, term, lc_all=True, name=None):
    """The client in a pty under (lang, term): it joins, shows lisi's Chinese line,
    leaves on SIGTERM with 0. Returns everything it wrote."""
    port, lisi, _ = room
    name = name or "c%d" % number
    argv = env_argv(lang, term, lc_all) + [pyz, "client", "--name", name, "--port", str(port),
                                            HOST]
    with PtyTerminal(argv) as screen:
        own_join_shown(screen, name)
        lisi.wait_line(seen_by_lisi(name, "进入"))
        said = "你好 %s 中文" % name
        lisi.send(said)
        screen.wait_text("lisi : " + said)
        os.kill(screen.proc.pid, signal.SIGTERM)
        assert screen.wait_exit(5) == 0
        lisi.wait_line(seen_by_lisi(name, "退出"))
        return finish(screen)


CASES = [(lang, term) for lang in LOCALES for term in TERMS]


@pytest.mark.parametrize("lang, term", CASES, ids=["%s-%s" % case for case in CASES])
def test_client_in_every_locale_and_terminal(pyz, room, lang, term):
    output = client_case(pyz, room, CASES.index((lang, term)), lang, term)
    assert "Traceback" not in output
    line_mode = term in LINE_MODE_TERMS
    if line_mode:
        expected = 1                      # the terminal's line; the locale is no matter
        assert ("TERM=dumb 不能移动光标" if term else "没有设置 TERM") in output
        assert "改用行模式" in output
    else:
        expected = 0 if lang == "C.UTF-8" else 1
        if lang in ("C", "POSIX"):
            assert "语言环境 %s 不是 UTF-8，显示不了中文，改用 C.UTF-8" % lang in output
        elif lang != "C.UTF-8":
            assert "语言环境 %s 没有安装，改用 C.UTF-8" % lang in output
    assert notes(output) == expected, output


@pytest.mark.parametrize("lang", ["C", "zh_CN.UTF-8"])
def test_client_with_lang_only_as_most_people_set_it(pyz, room, lang):
    # LANG alone: Python coerces a C LC_CTYPE to C.UTF-8 itself; an uninstalled
    # LANG still breaks setlocale(LC_ALL, "") for the other categories.
    output = client_case(pyz, room, 100 + len(lang), lang, "xterm-256color", lc_all=False)
    assert "Traceback" not in output and notes(output) <= 1


def test_line_mode_fallback_asks_for_the_name_and_again_when_refused(pyz, room):
    port, lisi, _ = room
    argv = env_argv("C.UTF-8", "dumb") + [pyz, "client", "--port", str(port), HOST]
    with PtyTerminal(argv) as screen:
        screen.wait_text("名字: ")
        screen.type("lisi", "enter")           # taken: said, and asked again
        screen.wait_text("名字 lisi 已经有人在用了")
        screen.wait_for(lambda lines, _: "\n".join(lines).count("名字: ") == 2,
                        what="the name asked again")
        screen.type("王五", "enter")
        own_join_shown(screen, "王五")
        lisi.wait_line(seen_by_lisi("王五", "进入"))
        screen.type("^D")                 # end of input on a terminal: leave
        assert screen.wait_exit(5) == 0
        lisi.wait_line(seen_by_lisi("王五", "退出"))
        assert "Traceback" not in finish(screen)


# ---------------------------------------------------------------- the console

CONSOLE_CASES = [("C", "xterm-256color"), ("zh_CN.UTF-8", "xterm-256color"),
                 ("C.UTF-8", "dumb")]


@pytest.mark.parametrize("lang, term", CONSOLE_CASES, ids=["%s-%s" % c for c in CONSOLE_CASES])
def test_console_in_a_broken_locale_or_terminal(pyz, tmp_path, lang, term):
    port = free_udp_port()
    argv = env_argv(lang, term) + [pyz, "server", "--port", str(port), "--bind", HOST]
    client = None
    with PtyTerminal(argv) as screen:
        try:
            if term == "dumb":
                screen.wait_text("改为从标准输入读取")                # Chinese, the default
            else:
                screen.wait_text(" %s:%d | 运行 " % (HOST, port))   # the curses console
            client = start_client(pyz, port, "张三", tmp_path)
            client.send("大家好")
            screen.wait_text("大家好")
            screen.type("下课了", "enter")
            client.wait_line(lambda line: line == "管理员消息: 下课了")
            os.kill(screen.proc.pid, signal.SIGTERM)
            assert screen.wait_exit(5) == 0
        finally:
            if client is not None:
                client.stop()
        output = finish(screen)
    assert "Traceback" not in output
    first = output.index("chat.pyz:")
    assert output[first:].split("\n")[0].rstrip("\r") == {
        "C": "chat.pyz: 语言环境 C 不是 UTF-8，显示不了中文，改用 C.UTF-8",
        "zh_CN.UTF-8": "chat.pyz: 语言环境 zh_CN.UTF-8 没有安装，改用 C.UTF-8",
        "C.UTF-8": "chat.pyz: 终端 TERM=dumb 不能移动光标，无法全屏显示，"
                   "改为从标准输入读取管理命令"}[lang]


# ---------------------------------------------------------------- stdin with no input

STDIN_CASES = {"devnull": "exec \"$@\" </dev/null", "closed": "exec \"$@\" <&-"}


@pytest.mark.parametrize("how", sorted(STDIN_CASES))
def test_line_mode_without_input_joins_listens_and_leaves_on_sigterm(pyz, room, how):
    port, lisi, log_dir = room
    name = "listener-" + how
    proc = Proc(["sh", "-c", STDIN_CASES[how], "sh", pyz, "client", "--plain", "--name", name,
                 "--port", str(port), HOST], subprocess.DEVNULL,
                os.path.join(str(log_dir), name + ".err"))
    try:
        proc.wait_line(lambda line: line == name + " 进入了聊天室"
                       or "了聊天室（人太多，不逐一显示）" in line)
        lisi.send("听得到吗 " + how)
        proc.wait_line(lambda line: line == "lisi : 听得到吗 " + how)
        assert proc.popen.poll() is None          # no input is not the end of input
        os.kill(proc.popen.pid, signal.SIGTERM)
        assert proc.wait_exit() == 0
        lisi.wait_line(seen_by_lisi(name, "退出"))
    finally:
        proc.stop()
    assert "Traceback" not in proc.stderr_text()
    assert proc.stderr_text() == ""


def test_line_mode_reads_a_file_then_leaves_at_its_end(pyz, room, tmp_path):
    port, lisi, _ = room
    lines = tmp_path / "lines.txt"
    lines.write_text("第一行\nsecond\n", encoding="utf-8")
    with open(str(lines), "rb") as stdin:
        result = subprocess.run([pyz, "client", "--plain", "--name", "filer", "--port",
                                 str(port), HOST], stdin=stdin, capture_output=True,
                                timeout=20)
    assert result.returncode == 0 and b"Traceback" not in result.stderr, result.stderr
    lisi.wait_line(lambda line: line == "filer : 第一行")
    lisi.wait_line(lambda line: line == "filer : second")
    lisi.wait_line(seen_by_lisi("filer", "退出"))


def test_line_mode_without_a_name_or_a_terminal_says_what_to_add(pyz):
    result = subprocess.run([pyz, "client", "--plain", "--port", "9", HOST],
                            stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
    assert result.returncode == 2
    assert result.stderr.decode("utf-8") == "chat.pyz: 行模式需要名字：请加上 --name 你的名字\n"


def test_server_with_stdin_closed_serves_headless(pyz, tmp_path):
    port = free_udp_port()
    argv = ["sh", "-c", STDIN_CASES["closed"], "sh", pyz, "server", "--port", str(port),
            "--bind", HOST]
    client = None
    with PtyTerminal(argv) as screen:              # stdout a terminal, stdin closed
        try:
            screen.wait_text("上监听")
            client = start_client(pyz, port, "张三", tmp_path)
            client.send("大家好")
            screen.wait_text("大家好")
            os.kill(screen.proc.pid, signal.SIGTERM)
            assert screen.wait_exit(5) == 0
        finally:
            if client is not None:
                client.stop()
        output = finish(screen)
    assert "Traceback" not in output
    assert "管理控制台结束了" not in output          # its headless side kept running
