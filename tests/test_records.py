"""`chat.pyz log` and `chat.pyz report` (app/ui/records.py) on a real room
database in tmp_path, and through the command line."""
import csv
import io
import json
import re
import subprocess
import sys
import time

import pytest

from app.core.options import RecordOptions
from app.net.state_db import StateDB
from app.ui import records
from app.ui.width import text_width

NOW = time.time()
T0 = NOW - 3600


@pytest.fixture
def state(tmp_path):
    db = StateDB.open(str(tmp_path))
    db.record([(T0, "join", "张三", "10.0.0.5:4000", ""),
               (T0 + 1, "join", "lisi", "10.0.0.6:4000", ""),
               (T0 + 2, "chat", "张三", "10.0.0.5:4000", "大家好"),
               (T0 + 3, "chat", "张三", "10.0.0.5:4000", "<b>粗</b>"),
               (T0 + 4, "emote", "lisi", "10.0.0.6:4000", "挥手"),
               (T0 + 5, "admin", "", "console", "下课前提交作业"),
               (T0 + 6, "kick", "lisi", "10.0.0.6:4000", "刷屏"),
               (T0 + 7, "chat", "张三", "10.0.0.5:4000", "再见")])
    db.close()
    return str(tmp_path)


def run(state, command="log", **fields):
    out = io.StringIO()
    code = records.run(RecordOptions(command=command, state=state, **fields), out)
    return code, out.getvalue()


def test_log_text_is_the_room_as_the_console_words_it(state):
    code, text = run(state)
    assert code == 0
    lines = [line[20:] for line in text.splitlines()]        # after the date and time
    assert lines == ["张三 进入了聊天室  10.0.0.5:4000", "lisi 进入了聊天室  10.0.0.6:4000",
                     "张三 : 大家好", "张三 : <b>粗</b>", "* lisi 挥手", "管理员消息: 下课前提交作业",
                     "lisi 退出了聊天室 (被踢出: 刷屏)", "张三 : 再见"]
    code, text = run(state, lang="en")
    assert [line[20:] for line in text.splitlines()][-2:] == \
        ["lisi left the room (kicked: 刷屏)", "张三 : 再见"]


def test_log_by_name_in_any_case_and_since(state):
    assert [line[20:] for line in run(state, name="LISI")[1].splitlines()] == \
        ["lisi 进入了聊天室  10.0.0.6:4000", "* lisi 挥手", "lisi 退出了聊天室 (被踢出: 刷屏)"]
    since = time.strftime("%Y-%m-%d %H:%M", time.localtime(T0 + 120))
    assert run(state, since=since)[1] == ""
    assert len(run(state, since="2h")[1].splitlines()) == 8


def test_log_csv_and_jsonl_carry_the_transcripts_fields(state):
    rows = list(csv.reader(io.StringIO(run(state, format="csv")[1])))
    assert rows[0] == ["time", "event", "name", "addr", "detail"]
    assert rows[3][1:] == ["chat", "张三", "10.0.0.5:4000", "大家好"]
    first = json.loads(run(state, format="jsonl")[1].splitlines()[2])
    assert {k: first[k] for k in ("event", "name", "detail")} == \
        {"event": "chat", "name": "张三", "detail": "大家好"}
    assert first["time"].startswith(time.strftime("%Y-%m-%dT", time.localtime(T0 + 2)))


def test_log_html_is_one_self_contained_escaped_page(state):
    page = run(state, format="html")[1]
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "&lt;b&gt;粗&lt;/b&gt;" in page and "<b>粗" not in page
    assert "src=" not in page and "href=" not in page and "<script" not in page


def test_report_counts_lines_first_and_last_seen_with_bars(state):
    code, text = run(state, command="report")
    assert code == 0
    head, zhang, lisi = text.splitlines()
    assert head.split() == ["名字", "发言", "第一次出现", "最后一次出现"]
    assert zhang.split()[:2] == ["张三", "3"] and lisi.split()[:2] == ["lisi", "1"]
    assert zhang.endswith("█" * records.BAR_WIDTH)
    assert lisi.split()[-1] == records.bar(1, 3) == "█" * 10
    assert records.bar(1, 16, 1) == "▏" and records.bar(0, 0) == ""
    page = run(state, command="report", format="html")[1]
    assert "class=bar" in page and "张三" in page and "<th>第一次出现</th>" in page
    english = run(state, command="report", lang="en")[1].splitlines()
    assert english[0].split() == ["name", "lines", "first", "seen", "last", "seen"]
    assert "<th>first seen</th>" in run(state, command="report", format="html", lang="en")[1]
    assert run(state, command="report", since="1m")[1] == "名字  发言  第一次出现  最后一次出现\n" \
        "(这段时间里没有人)\n"
    assert run(state, command="report", since="1m", lang="en")[1].splitlines()[1] == \
        "(nobody in this period)"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_report_columns_line_up_with_wide_names(state, lang):
    """Each column starts at the same display column on every line, a Chinese
    name or heading counted as two cells a character (the count right-aligned)."""
    for lines in (run(state, command="report", lang=lang)[1].splitlines(),):
        starts = [[text_width(line[:m.start()]) for m in re.finditer(r"(?<=  )\S", line)]
                  for line in lines]
        ends = [text_width(line[:m.end()]) for line in lines
                for m in [re.search(r"^\S+ +\S+", line)]]
        assert len(set(ends)) == 1, lines                     # the counts end together
        assert len({tuple(s[1:3]) for s in starts}) == 1, lines   # the times start together


def test_report_lists_the_hand_ins_of_the_period(state):
    db = StateDB.open(state)
    db.add_hand_in(T0 - 86400, "王五", "old.py", "/s/王五/old.py", 10, "00" * 32)
    db.add_hand_in(T0 + 8, "张三", "作业1.py", "/s/张三/20261205-101500-作业1.py", 12_000,
                   "ab" * 32)
    db.add_hand_in(T0 + 9, "张三", "<作业2>.py", "/s/张三/x.py", 3, "cd" * 32)
    db.close()
    text = run(state, command="report", since="2h")[1]
    tail = text.split("\n交作业: ", 1)[1].splitlines()
    assert tail[0] == "2 份，来自 1 人"
    assert tail[1].endswith("  张三  作业1.py (12 KB)  sha256 %s  → /s/张三/20261205-101500-作业1.py"
                            % ("ab" * 32))
    assert "old.py" not in text                               # before --since
    assert "\nhand-ins: 2 from 1 people\n" in run(state, command="report", since="2h",
                                                    lang="en")[1]
    page = run(state, command="report", format="html", since="2h")[1]
    assert page.count("<table>") == 2 and "&lt;作业2&gt;.py" in page and "<作业2>" not in page
    assert page.rstrip().endswith("</body></html>") and "<h2>交作业: 2 份，来自 1 人</h2>" in page


@pytest.mark.parametrize("since", ["yesterday-ish", "25:99", "3w"])
def test_a_bad_since_is_one_line_and_exit_2(state, since, capsys):
    assert run(state, since=since)[0] == 2
    said = capsys.readouterr().err
    assert said.count("\n") == 1 and "不是一个时间" in said
    assert run(state, since=since, lang="en")[0] == 2
    assert "is not a time" in capsys.readouterr().err


def test_no_database_is_one_line_and_exit_1_and_nothing_is_created(tmp_path):
    result = subprocess.run([sys.executable, "-m", "app", "log", "--state", str(tmp_path)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert result.stderr == "chat.pyz: %s 里没有聊天室的数据库 (服务器用 --state %s 运行过吗？)\n" % (
        tmp_path, tmp_path)
    english = subprocess.run([sys.executable, "-m", "app", "log", "--lang", "en", "--state",
                              str(tmp_path)], capture_output=True, text=True, timeout=30)
    assert english.returncode == 1 and "no room database in %s" % tmp_path in english.stderr
    assert list(tmp_path.iterdir()) == []
