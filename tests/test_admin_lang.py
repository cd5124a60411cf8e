"""The admin console and the server's log in one language a line (issue 18,
item 3): Chinese by default, English with `server --lang en`.

First the tables themselves (app/ui/admin_text.py TEXTS), then every line the
console can print (each result, log kind, note, hint, the roster and the
status line) from neutral values, then the real program: the curses console
in a pty (pyte) in Chinese by default and in English with --lang en, and the
headless console where the locale cannot show Chinese (LANG=C, a latin-1
stdout). Every wait has a deadline.
"""
import os
import re
import subprocess

import pytest
from chatproc import HOST, Proc, free_udp_port, start_client
from test_admin_tui import Room, log_text, squash  # noqa: F401

from app.core import admin
from app.core import console_messages as C
from app.core import protocol as P
from app.core.admin import LogKind
from app.core.console_messages import ConsoleState
from app.core.join_hints import Address, Hint, join_hints
from app.core.text import NameProblem
from app.ui import admin_headless
from app.ui.admin_text import (TEXTS, dated, help_lines, hint_lines, log_body, note_text,
                               result_lines, state_text, tr, unknown_line, usage_line)
from app.ui.admin_tui import online_rows, status_text

pytestmark = pytest.mark.timeout(90)

CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef\u201c\u201d]")
PLACEHOLDER = re.compile(r"%\((\w+)\)[-.\d]*[sdgf]")
# What a Chinese line may hold in ASCII because it is typed, not said: commands
# and options, backquoted commands, the program's name, the durations /ban takes
# and the roster shows (30s, 10m), signal names, the protocols' and keys' names,
# a name in an example (Zhang_San, from the client's name rules), and the server
# key's four words and a room code (the PGP word list: the same words on every
# screen, to compare aloud), a rare errno's name (`系统错误 EXDEV`), and sizes
# (`4.5 MB`: file_names.human_size, the units file managers show).
TYPED = re.compile(r"\S*chat\.pyz client\b|`[^`]*`|(?<![\w.])/[a-z][a-z-]*|--[a-z-]+|chat\.pyz(?: client)?|\b\d+[smhd]\b|\b\d+(?:\.\d)? [KMG]?B\b|\bSIG[A-Z]+\b|\bE[A-Z0-9]{3,}\b|"
                   r"\b(?:UDP|IP|IPv4|IPv6|PgDn|Tab|Zhang_San|y/n)\b|\by/n\b|[\w./-]*/[\w./-]+|"
                   r"\b[A-Za-z]+(?:-[A-Za-z]+){3}\b|\b\d+-[A-Za-z]+-[A-Za-z]+\b")
WORD = re.compile(r"[A-Za-z]{2,}")


def english_words(line):
    """The ASCII words of a line once what is typed (TYPED) is taken out."""
    return WORD.findall(TYPED.sub(" ", PLACEHOLDER.sub(" ", line)))


def chinese_ok(line):
    """A Chinese line: no English word, and Chinese wherever it says something."""
    rest = TYPED.sub(" ", PLACEHOLDER.sub(" ", line))
    return not english_words(line) and (CJK.search(line) or not re.search(r"[A-Za-z]", rest))


# ---------------------------------------------------------------- the tables

# What the Chinese table leaves out: English from below (the codec's reason, an
# older server's stored refusal, SQLite's error), which only English shows.
LEFT_OUT = {"malformed_one": {"why"}, "malformed_many": {"why"}, "refuse_other": {"detail"},
            "state_db_damaged": {"error"}, "state_db_unusable": {"error"},
            "start_bind_bad": {"error"}}


def test_both_tables_have_the_same_keys_and_placeholders():
    assert set(TEXTS) == {"zh", "en"}
    assert set(TEXTS["zh"]) == set(TEXTS["en"])
    for key in TEXTS["en"]:
        english = set(PLACEHOLDER.findall(TEXTS["en"][key]))
        assert set(PLACEHOLDER.findall(TEXTS["zh"][key])) == english - LEFT_OUT.get(key, set()), key


def test_each_entry_is_in_its_own_language():
    """Walks every key: English has no Chinese; Chinese has no English word and
    says what it says in Chinese; only language-free entries are the same."""
    same = set()
    for key, english in TEXTS["en"].items():
        chinese = TEXTS["zh"][key]
        assert not CJK.search(english), (key, english)
        assert chinese_ok(chinese), (key, chinese, english_words(chinese))
        if chinese == english and english_words(english):
            same.add(key)
    assert same == set(), same
    said = [key for key in TEXTS["en"] if english_words(TEXTS["en"][key])]
    assert len(said) > 150                           # the walk covered the tables' words
    assert all(CJK.search(TEXTS["zh"][key]) for key in said), \
        [key for key in said if not CJK.search(TEXTS["zh"][key])]


# ---------------------------------------------------------------- every line

NAME, OTHER, ADDR = "007", "008", "10.0.0.5:4000"      # neutral values: no words in them
BAN_ROW = ("ban", NAME, (NAME,), ("10.0.0.5",), ("12" * 16,), 3, "")
KICK_ROW = ("kick", NAME, (NAME,), ("10.0.0.5",), (), 5, "")
RESULTS = [
    admin.Announced(True), admin.Kicked(NAME, "10.0.0.5", 5),
    admin.NoSuchMember(NAME), admin.NoSuchMember(NAME, (OTHER, "009")),
    admin.Banned(BAN_ROW, (NAME,)), admin.Banned(BAN_ROW, (), True, (OTHER,)),
    admin.Unbanned(NAME, (BAN_ROW, KICK_ROW)), admin.NotBanned(NAME),
    admin.BanList((BAN_ROW, KICK_ROW), ((NAME, 4),)), admin.BanList((), ()),
    admin.Muted(NAME, 5), admin.Unmuted(NAME), admin.NotMuted(NAME),
    admin.MotdSet(""), admin.MotdSet("123"), admin.MotdIs(""),
    admin.MemberList(((NAME, ADDR, 700, 3, True), (OTHER, ADDR, 2, 0, False))),
    admin.StatsReport(2, tuple((name, 1) for name in (
        "challenges", "datagrams", "handshake_failures", "handshakes", "joins", "leaves",
        "malformed", "messages", "probes", "refused", "throttled", "timeouts"))),
    admin.Stopping(), admin.CommandFailed("KeyError('x')"),
]
# /send's failures (app/net/files.py SourceHash, server_files.hand_out), coded
# (app/core/problems.py): every errno a teacher meets, and a rare one (its name).
SEND_ERRNOS = ("ENOENT", "EACCES", "EISDIR", "ENOTDIR", "ENOSPC", "EROFS", "EFBIG", "EIO",
               "ELOOP", "EMFILE", "ENAMETOOLONG", "EXDEV")
RESULTS += ([admin.FileNotSent("open %s /home/t/notes_1" % name) for name in SEND_ERRNOS]
            + [admin.FileNotSent(d) for d in (
                "read EIO /x", "not_file - /dev/null", "changed - /x/a1",
                "too_big - 200000000 100000000 /x/big")])
# The server's key file (app/net/identity.py), said before it starts.
KEY_PROBLEMS = ("key_read EACCES /s/identity.key", "key_damaged - /s/identity.key",
                "key_keep EROFS /s", "key_keep ENOSPC /s", "known_keep EACCES /c/known_servers")
# Handout and hand-in entries (app/net/server_files.py), coded.
FILE_ENTRIES = [(0.0, LogKind.HANDOUT, "", "console", "not_handed_out - open ENOENT /x/a1"),
                (0.0, LogKind.HANDOUT, "", "console", "not_handed_out - changed - /x/a1"),
                (0.0, LogKind.HANDOUT, NAME, "-", "not_stored - a1"),
                (0.0, LogKind.HANDOUT, NAME, "-", "not_stored ENOSPC a1"),
                (0.0, LogKind.HANDOUT, NAME, "-", "not_stored_mismatch - a1"),
                (0.0, LogKind.HANDOUT, NAME, "-", "handout_refused - 3 a1"),
                (0.0, LogKind.HANDOUT, NAME, "-", "handout_refused EACCES 4 a1"),
                (0.0, LogKind.HANDOUT, NAME, "-", "handout_refused - 7 a1"),
                (0.0, LogKind.HANDOUT, "", "-", "saved_unreadable -"),
                (0.0, LogKind.HAND_IN, NAME, "-", "abandoned_cancelled - a1"),
                (0.0, LogKind.HAND_IN, NAME, "-", "abandoned_silent - 3600 a1"),
                (0.0, LogKind.HAND_IN, NAME, "-", "resumed - 4500000 10000000 a1"),
                (0.0, LogKind.HAND_IN, NAME, "-", "hand_in_failed ENOSPC a1"),
                (0.0, LogKind.HAND_IN, NAME, "-", "hand_in_failed EXDEV a1"),
                (0.0, LogKind.HAND_IN, NAME, "-", "hand_in_mismatch - a1"),
                (0.0, LogKind.HAND_IN, NAME, "-", "hand_in_not_taken - 3 a1"),
                (0.0, LogKind.HAND_IN, NAME, "-", "hand_in_not_taken ENOSPC 3 a1"),
                (0.0, LogKind.HAND_IN, NAME, "-", "hand_in_not_taken EACCES 4 a1")]
REFUSALS = (["%s 0 %s" % (why, OTHER) for why in ("taken", "looks_like")]
            + ["room_full 0 30", "host_full 0 32"]
            + ["%s 600 %s" % (why, r) for why in ("kicked", "banned_name", "banned_host",
                                                  "banned_key") for r in ("", "123")]
            + ["name_" + problem.name.lower() + " 0" for problem in NameProblem])
ENTRIES = ([(0.0, LogKind.JOIN, NAME, ADDR, ""), (0.0, LogKind.LEAVE, NAME, ADDR, "")]
           + [(0.0, LogKind.TIMEOUT, NAME, ADDR, d) for d in ("stopped acknowledging",
                                                               "no reply for 30 s")]
           + [(0.0, LogKind.KICK, NAME, ADDR, d) for d in ("", "123")]
           + [(0.0, LogKind.BAN, NAME, ADDR, ""), (0.0, LogKind.BAN, NAME, "console", "3 min"),
              (0.0, LogKind.BAN, NAME, "console", "3 min 123"),
              (0.0, LogKind.BAN, NAME, "console", "lifted"),
              (0.0, LogKind.CHAT, NAME, ADDR, "123"), (0.0, LogKind.EMOTE, NAME, ADDR, "123"),
              (0.0, LogKind.PRIVATE, NAME, ADDR, "to " + OTHER),
              (0.0, LogKind.ADMIN, "", "console", "123"),
              (0.0, LogKind.RESUME, NAME, ADDR, "was 10.0.0.6:1"),
              (0.0, LogKind.MALFORMED, "", ADDR, "1 short"),
              (0.0, LogKind.MALFORMED, "", ADDR, "7 short"),
              (0.0, LogKind.THROTTLE, NAME, ADDR, ""), (0.0, LogKind.SHUTDOWN, "", "console", ""),
              (0.0, LogKind.MOTD, "", "console", "123"), (0.0, LogKind.MOTD, "", "console", "")]
           + [(0.0, LogKind.MUTE, NAME, "console", d) for d in ("5 min", "lifted", "over")]
           + [(0.0, LogKind.REFUSE, name, ADDR, d) for d in REFUSALS for name in (NAME, "")]
           + FILE_ENTRIES)
NOTES = ([(C.NOTE_LISTENING, (("host", ""), ("port", "9797"), ("rcvbuf", "212992"))),
          (C.NOTE_LISTENING, (("host", "10.0.0.5"), ("port", "9797"), ("rcvbuf", "212992"))),
          (C.NOTE_STATE_KEPT, (("path", "/x/room.sqlite3"),)),
          (C.NOTE_CONSOLE_REPLACED, ()), (C.NOTE_CONSOLE_ENDED, ())]
         + [(C.NOTE_STOPPING, (("why", why),)) for why in ("quit", "SIGTERM", "")]
         + [(C.NOTE_STATE, (("problem", problem), ("memory", memory), ("path", "/x/y"),
                            ("error", "123"), ("directory", "/x"), ("version", "9"),
                            ("known", "3"), ("given", "/x"), ("usual", "/y"), ("port", "9797")))
            for problem in ("db_read_only", "db_locked", "db_damaged", "db_unusable",
                            "db_missing", "db_newer", "dir_refused", "dir_fallback", "dir_none")
            for memory in ("", "run", "now")])
HINTS = (join_hints("::", 9797, "./chat.pyz", [Address("10.0.0.5", "7", "10.0.0.0/24"),
                                                Address("10.0.1.5", "8"),
                                                Address("2001:1::5", "7", ipv6_prefix=64)],
                    True)
         + join_hints("0.0.0.0", 9798, "./chat.pyz", [], True)
         + join_hints("0.0.0.0", 9798, "./chat.pyz", [], False)
         + join_hints("127.0.0.1", 9797, "./chat.pyz", [], False)
         + join_hints("10.0.0.5", 9797, "./chat.pyz", [], True)
         + [Hint.of("server_key", words="a-b-c-d"), Hint.of("room_password", password="7-a-b")])
MEMBERS = ((NAME, ADDR, 0, 0, True), (OTHER, ADDR, admin.AWAY_SECONDS, 1, False))


def every_line(lang):
    """Every line the consoles can print, worded in `lang` (with the results'
    technical error line left out: it is Python's repr, as it came)."""
    lines = help_lines(lang)
    for result in RESULTS:
        lines += result_lines(result, lang)[:1 if isinstance(result, admin.CommandFailed)
                                            else None]
    lines += [usage_line(admin.Usage(c), lang) for c in ("/kick", "/ban", "/mute", "/unban",
                                                         "/unmute")]
    lines += [unknown_line(admin.Unknown("/x"), lang, tab) for tab in (False, True)]
    lines += [log_body(entry, lang)[0] for entry in ENTRIES]
    lines += [note_text(key, values, lang)[0] for key, values in NOTES]
    lines += hint_lines(HINTS, lang)
    lines += ["".join(t for t, _ in row) for row in online_rows(MEMBERS, 30, 2, lang)]
    lines += ["".join(t for t, _ in row) for row in online_rows(MEMBERS * 20, 30, 4, lang)]
    state = ConsoleState("*:9797", 65, MEMBERS, 3, 1.5)
    lines += [status_text(state, "*:9797", lang), status_text(None, "*:9797", lang)]
    lines += [tr(lang, key) for key in ("confirm", "stopping", "quit_cancelled", "stopped",
                                        "network_gone", "quit_unanswered", "no_console",
                                        "status_stopping", "status_scrolled")]
    lines += [tr(lang, "too_long", limit=2048), tr(lang, "new_below", count=3)]
    lines += [admin_headless.lines(lang, C.StartProblem.of(key, port=9797, bind="10.0.0.5",
                                                           where="10.0.0.5:80", path="/x",
                                                           error="EADDRNOTAVAIL"))[0]
              for key in ("bind_in_use", "bind_in_use_on", "bind_denied", "bind_not_here",
                          "bind_failed", "bind_bad", "log_unwritable")]
    lines += [admin_headless.lines(lang, C.StartProblem.of("coded", problem=problem))[0]
              for problem in KEY_PROBLEMS]
    return lines


def test_every_line_the_console_prints_is_in_one_language():
    chinese, english = every_line("zh"), every_line("en")
    assert len(chinese) == len(english) > 170
    for line in english:
        assert not CJK.search(line), line
    for line in chinese:
        assert chinese_ok(line), (line, english_words(line))
    # And they say something different (the walk did not word both alike).
    worded = [(zh, en) for zh, en in zip(chinese, english) if english_words(en)]
    assert len(worded) > 150 and all(zh != en for zh, en in worded)


def test_the_announcement_the_clients_see_is_the_protocols():
    """The console's log words the announcement; the clients get 管理员消息 from
    their own texts whatever the console's language (the event carries only
    the text)."""
    entry = (0.0, LogKind.ADMIN, "", "console", "下课")
    assert log_body(entry, "zh") == ("管理员消息: 下课", "admin")
    assert log_body(entry, "en") == ("Admin message: 下课", "admin")
    assert P.EV_ADMIN and "管理员消息: %(text)s" in TEXTS["zh"].values()


def test_refusals_and_the_state_in_chinese():
    when = 1_800_000_000.0
    body = log_body((when, LogKind.REFUSE, "lisi", ADDR, "banned_host %d 刷屏" % (when + 61)),
                    "zh")[0]
    assert body == "拒绝了 lisi (来自 10.0.0.5:4000)：地址被封禁，还有 2 分钟 (原因: 刷屏)"
    assert log_body((when, LogKind.REFUSE, "a b", ADDR, "name_space 0"), "zh")[0] == \
        "拒绝了 a b (来自 10.0.0.5:4000)：名字里不能有空格 (可以用 _ 或 - 连接，例如 Zhang_San)"
    # An older server's entry (English reason, stored): Chinese leaves it out.
    assert log_body((when, LogKind.REFUSE, "lisi", ADDR, "you are banned"), "zh")[0] == \
        "拒绝了 lisi (来自 10.0.0.5:4000)"
    assert state_text("db_locked", {"path": "/s/room.sqlite3"}, "zh") == \
        "聊天室的数据库 /s/room.sqlite3 被另一个程序锁住了"
    assert note_text(C.NOTE_STATE, (("memory", "now"), ("path", "/s"), ("problem", "db_read_only")),
                     "zh") == ("聊天室的数据库 /s 是只读的；从现在起聊天室的状态只保存在内存里", "warn")


def test_the_headless_lines_are_dated_and_one_entry_one_line():
    log = C.ConsoleLog(((1_800_000_000.0, "chat", "张三", ADDR, "第一行\n    第二行"),))
    [line] = admin_headless.lines("zh", log)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d 张三 : 第一行 +第二行", line)
    assert dated(1_800_000_000.0, "a\nb").endswith(" a \u21b5 b")
    note = C.ConsoleNote(1_800_000_000.0, C.NOTE_CONSOLE_ENDED, ())
    assert admin_headless.lines("en", note)[0].endswith(" the admin console ended; going on headless")
    assert admin_headless.lines("zh", C.ConsoleHints(tuple(HINTS[:1])))[0].startswith("加入方法: ")


# ---------------------------------------------------------------- the real program

def screen_words(lines):
    """The English words on a screen, typed things (TYPED) aside."""
    return [word for row in lines for word in english_words(row)]


def test_the_console_is_chinese_by_default_in_a_pty(pyz, tmp_path):
    r = Room(pyz, tmp_path, lang=())
    try:
        zhang = r.join("张三")
        r.online(1)
        r.term.wait_text("加入方法: ")
        r.term.wait_text("服务器指纹")
        zhang.send("大家好")
        r.said("张三 : 大家好")
        for command, reply in (("/list", "在线 1 人"), ("/kick 李四", "这里没有叫 李四 的人"),
                               ("/mute", "用法: /mute 名字 [时间]"), ("/help", "这个列表"),
                               ("/stats", "在线 1 人；")):
            r.type_line(command)
            r.said(reply)
        lines, _ = r.term.snapshot()
        assert "在线 1" in lines[0] and "张三" in lines[1]                 # the roster
        assert re.match(r" 127\.0\.0\.1:\d+ \| 运行 \d:\d\d:\d\d \| 在线 1 \| \d+\.\d 条/秒 \| "
                        r"丢弃 0", lines[-2])
        assert screen_words(lines) == []              # not one English word on the screen
        r.term.type("pgup")
        lines, _ = r.term.wait_for(lambda l, c: "正在回看: PgDn" in l[-2] and
                                   any(row.startswith("-- 下面还有 ") for row in l),
                                   what="scrolled back, said in Chinese")
        assert screen_words(lines) == []
        r.term.type("pgdn")
        r.term.type("^C")
        r.term.wait_text("停止服务器并断开所有人？(y/n)")
        r.term.type("n")
        r.said("已取消 /quit")
    finally:
        r.close()


def test_lang_en_gives_an_english_console(pyz, tmp_path):
    r = Room(pyz, tmp_path)                           # --lang en
    try:
        r.join("bob")
        r.online(1)
        r.said("bob joined the room")
        for command, reply in (("/list", "1 online"), ("/help", "this list"),
                               ("/kick nobody", "nobody called nobody is here")):
            r.type_line(command)
            r.said(reply)
        lines, _ = r.term.snapshot()
        assert not [row for row in lines if CJK.search(row)]   # no Chinese of its own
    finally:
        r.close()


@pytest.mark.parametrize("io", ["", "latin-1"])
def test_headless_under_lang_c_still_writes_chinese(pyz, tmp_path, procs, io):
    """LANG=C (no UTF-8 locale asked for), and then a stdout Python would encode
    as latin-1: the headless console and the server write UTF-8 all the same,
    and take commands."""
    port = free_udp_port()
    server = Proc([pyz, "server", "--headless", "--port", str(port), "--bind", HOST],
                  subprocess.PIPE, os.path.join(str(tmp_path), "server.err"),
                  env={"LANG": "C", "LC_ALL": "C", "PYTHONIOENCODING": io})
    procs.append(server)
    server.wait_line(lambda line: "chat.pyz 服务器在 127.0.0.1 的 UDP 端口 %d 上监听" % port in line)
    zhang = start_client(pyz, port, "张三", tmp_path)
    procs.append(zhang)
    server.wait_line(lambda line: " 张三 进入了聊天室  127.0.0.1:" in line)
    server.send("下课了")
    zhang.wait_line(lambda line: line == "管理员消息: 下课了")
    server.send("/list")
    server.wait_line(lambda line: line == "在线 1 人")
    assert "Traceback" not in server.stderr_text()
