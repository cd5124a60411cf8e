"""What the operating system answers, in the reader's language (issue 18, item
3): a key file, a file to send or hand in, the downloads folder, a firewall
that refuses to send. Never the C library's English (strerror) inside a
Chinese line; a rare errno by its name.

First the tables (app/ui/os_words.py) and the coded problems
(app/core/problems.py) from real failures (real files, real OSErrors), then
the real program: the server with a damaged or unreadable key file, /hand-in
of a missing file, --downloads that cannot be written, and a client whose
sends an nftables output rule drops (EPERM), each in Chinese by default and
in English with --lang en. Every wait has a deadline.
"""
import errno
import os
import re
import subprocess

import pytest
from test_admin_lang import CJK, chinese_ok, english_words

from app.core import problems
from app.net import files, identity
from app.net.files import FileProblem, SourceHash
from app.ui import os_words, render
from app.ui.os_words import problem_text, reason
from tests import netns
from tests.chatproc import (HOST, Proc, free_udp_port, start_client, start_server,
                             wait_until)

pytestmark = pytest.mark.timeout(90)

# What a student or teacher meets, and a rare one.
COMMON = ("ENOENT", "EACCES", "EPERM", "EISDIR", "ENOTDIR", "ENOSPC", "EDQUOT", "EROFS",
          "EFBIG", "EEXIST", "ENAMETOOLONG", "ELOOP", "EMFILE", "EIO")


def one_language(zh, en):
    assert chinese_ok(zh), (zh, english_words(zh))
    assert CJK.search(zh), zh
    assert not CJK.search(en), en
    assert zh != en


# ---------------------------------------------------------------- the tables

def test_both_tables_have_the_same_keys():
    assert set(os_words.REASONS["zh"]) == set(os_words.REASONS["en"])
    assert set(os_words.TEXTS["zh"]) == set(os_words.TEXTS["en"])


@pytest.mark.parametrize("name", COMMON)
def test_common_errnos_are_worded_in_each_language(name):
    zh, en = reason(name, "zh"), reason(name, "en")
    one_language(zh, en)
    assert name not in zh and name not in en
    assert os.strerror(getattr(errno, name)) not in zh


# What a client's Chinese line may also hold in ASCII: the keys to press, and
# the names of programs and units (typed or searched for, not said).
CLIENT_TYPED = re.compile(r"\b(?:Ctrl|Alt)-\S+|\bSHA-256\b|\bKiB\b|\b(?:nftables|iptables|"
                          r"Python|libcrypto|OpenSSL)\b")


def test_the_clients_tables_are_one_language_an_entry():
    """render's texts, its network details and os_words: a Chinese entry has
    no English word, an English one no Chinese (but the /交作业 command)."""
    for tables in (render.TEXTS, render.DETAIL_WORDS, os_words.TEXTS, os_words.REASONS):
        for key, text in tables["zh"].items():
            for line in text if isinstance(text, list) else [text]:
                rest = CLIENT_TYPED.sub(" ", line)
                assert chinese_ok(rest), (key, line, english_words(rest))
        for key, text in tables["en"].items():
            for line in text if isinstance(text, list) else [text]:
                assert not CJK.search(line.replace("/交作业", "")), (key, line)


def test_a_rare_errno_is_named_not_strerrored():
    assert reason("EXDEV", "zh") == "系统错误 EXDEV"
    assert reason("EXDEV", "en") == "system error EXDEV"
    assert reason("-", "zh") == reason("", "en") == ""


def test_a_coded_problem_round_trips_and_other_text_stays():
    coded = problems.detail("open", errno.ENOENT, "/home/t/a b.pdf")
    assert coded == "open ENOENT /home/t/a b.pdf"
    assert problems.parse(coded) == ("open", "ENOENT", "/home/t/a b.pdf")
    for english in ("cannot open x: No such file or directory", "hello", "", "Open - x"):
        assert problems.parse(english) is None
        assert problem_text(english, "zh") == english      # an older server's: as it is
    assert problems.errno_number("ENOSPC") == errno.ENOSPC
    assert problems.errno_number("No space left") is None


# ---------------------------------------------------------------- real failures

def sent_problem(path):
    with pytest.raises(FileProblem) as caught:
        SourceHash(str(path), 0)
    return str(caught.value)


def test_real_file_failures_are_coded_and_worded(tmp_path):
    missing, folder = tmp_path / "讲义.pdf", tmp_path / "dir"
    folder.mkdir()
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    (tmp_path / "file").write_text("x")
    cases = {
        missing: ("打不开 %s: 没有这个文件或文件夹" % missing,
                  "cannot open %s: no such file or folder" % missing),
        folder: ("%s 不是普通文件" % folder, "%s is not a regular file" % folder),
        tmp_path / "loop": ("打不开 %s: 符号链接太多 (循环？)" % (tmp_path / "loop"),
                            "cannot open %s: too many symbolic links (a loop?)"
                            % (tmp_path / "loop")),
        tmp_path / "file" / "x": ("打不开 %s: 路径里有一部分不是文件夹" % (tmp_path / "file" / "x"),
                                  "cannot open %s: part of the path is not a folder"
                                  % (tmp_path / "file" / "x")),
        tmp_path / ("n" * 300): ("打不开 %s: 名字太长" % (tmp_path / ("n" * 300)),
                                 "cannot open %s: the name is too long"
                                 % (tmp_path / ("n" * 300))),
    }
    for path, (zh, en) in cases.items():
        coded = sent_problem(path)
        assert problem_text(coded, "zh") == zh
        assert problem_text(coded, "en") == en


def test_the_client_words_its_hand_in_and_download_failures():
    """render.file_news_text: a hand-in that could not start here (coded), a
    download the disk refused (an errno name), in one language each."""
    for news in (files.HandInRefused("a1", 0, "open ENOENT /x/a1"),
                 files.HandInRefused("a1", 0, "write"),
                 files.HandInRefused("a1", 3, ""),
                 files.HandInRefused("a1", 4, "EFBIG"),
                 files.FileFailed("a1", "no_space", "ENOSPC"),
                 files.FileFailed("a1", "unwritable", "EROFS"),
                 files.FileFailed("a1", "write", "EIO")):
        zh, en = (render.file_news_text(news, lang)[0] for lang in ("zh", "en"))
        one_language(zh, en)
    assert render.file_news_text(files.FileFailed("a1", "unwritable", "EROFS"), "zh")[0] \
        == "文件 a1 没有保存: 下载文件夹不能写入（用 --downloads 指定别的文件夹） (磁盘是只读的)"
    # The server could not write a hand-in midway: its errno name, worded here.
    assert render.file_news_text(files.HandInRefused("a1", 4, "EFBIG"), "zh")[0] \
        == "作业 a1 没有提交: 服务器不能保存文件 (文件太大)"


def test_key_files_failures_are_coded(tmp_path):
    notes = []
    (tmp_path / identity.KEY_FILE).write_text("not hex\n")
    with pytest.raises(identity.KeyStoreError) as caught:
        identity.load_or_create(str(tmp_path), notes)
    assert problem_text(str(caught.value), "zh") == \
        "密钥文件 %s 坏了；把它移到别处，就会生成新的密钥" % (tmp_path / identity.KEY_FILE)
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / (identity.KEY_FILE + ".tmp")).mkdir()         # the new key cannot be written
    identity.load_or_create(str(blocked), notes)
    assert notes == ["key_keep EISDIR %s" % blocked]
    one_language(problem_text(notes[0], "zh"), problem_text(notes[0], "en"))
    assert problem_text(notes[0], "zh") == \
        "没法在 %s 保存密钥 (这是一个文件夹)：这次运行用临时密钥，下次指纹会不一样" % blocked


def test_the_downloads_folder_problems_are_coded(tmp_path):
    (tmp_path / "file").write_text("x")
    folder, note = files.downloads_dir(str(tmp_path / "file"))
    assert folder is None
    zh, en = problem_text(note, "zh"), problem_text(note, "en")
    one_language(zh, en)
    assert zh.startswith("--downloads %s 不能写入 (" % (tmp_path / "file"))


# ---------------------------------------------------------------- the real program

@pytest.fixture
def port():
    return free_udp_port()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_server_with_a_bad_key_file_says_so_in_its_language(pyz, port, tmp_path, lang):
    """The key file a folder (EISDIR on reading), then damaged: one line on
    stderr, exit 1; with the new key's file blocked, one line and it runs."""
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    key = state / identity.KEY_FILE
    key.mkdir()
    argv = [pyz, "server", "--headless", "--bind", HOST, "--port", str(port),
            "--state", str(state), "--lang", lang]
    said = {"zh": ["chat.pyz: 读不了密钥文件 %s: 这是一个文件夹\n" % key,
                   "chat.pyz: 密钥文件 %s 坏了；把它移到别处，就会生成新的密钥\n" % key],
            "en": ["chat.pyz: cannot read the key file %s: it is a folder\n" % key,
                   "chat.pyz: the key file %s is damaged; move it away to make a new key\n"
                   % key]}[lang]
    for expected in said:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=30,
                                stdin=subprocess.DEVNULL)
        assert (result.returncode, result.stderr) == (1, expected)
        if key.is_dir():
            key.rmdir()
        key.write_text("0123\n")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_cannot_keep_a_key_is_one_line_in_its_language(pyz, port, tmp_path, procs, lang):
    """The new key's file cannot be written (a folder is in its way): the
    server says so in one line of its language and runs with a key for this run."""
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    (state / (identity.KEY_FILE + ".tmp")).mkdir()
    server = Proc([pyz, "server", "--headless", "--bind", HOST, "--port", str(port),
                   "--state", str(state), "--lang", lang], subprocess.DEVNULL,
                  str(tmp_path / "server.err"))
    procs.append(server)
    server.wait_line(lambda line: str(port) in line)           # it listens
    words = {"zh": "chat.pyz: 没法在 %s 保存密钥 (这是一个文件夹)：这次运行用临时密钥，下次指纹会不一样",
             "en": "chat.pyz: cannot keep a key in %s (it is a folder): using a key for this "
                   "run only, so the fingerprint changes next time"}[lang] % state
    assert server.stderr_text().splitlines() == [words]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_hand_in_of_a_missing_file_and_unwritable_downloads(pyz, port, tmp_path, procs, lang):
    procs.append(start_server(pyz, port, tmp_path, "--state", str(tmp_path / "state")))
    (tmp_path / "file").write_text("x")
    me = start_client(pyz, port, "张三", tmp_path, "--lang", lang, "--downloads",
                      str(tmp_path / "file"), wait_joined=False)
    procs.append(me)
    me.wait_line(lambda line: "张三" in line, timeout=30)
    me.send("/hand-in " + str(tmp_path / "nothing.py"))
    expected = {"zh": ["chat.pyz: --downloads %s 不能写入 (" % (tmp_path / "file"),
                       "chat.pyz: 无法提交: 打不开 %s: 没有这个文件或文件夹" % (tmp_path / "nothing.py")],
                "en": ["chat.pyz: --downloads %s cannot be written (" % (tmp_path / "file"),
                       "chat.pyz: cannot hand in: cannot open %s: no such file or folder"
                       % (tmp_path / "nothing.py")]}[lang]
    wait_until(lambda: len(me.stderr_text().splitlines()) >= 2, 30, "two lines on stderr")
    lines = me.stderr_text().splitlines()
    assert lines[0].startswith(expected[0]) and lines[1] == expected[1], lines
    for line in lines:
        assert chinese_ok(line) if lang == "zh" else not CJK.search(line), line


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_output_firewall_drop_is_worded(pyz, tmp_path, lang):
    """nftables in the client's namespace drops its UDP on output: send()
    fails with EPERM ("Operation not permitted"); the client says the firewall
    here refuses to send, in its language, and gives up after the timeout."""
    subnet, port = "10.79.3.%d", 9797
    with netns.veth_pair("czfw" + lang, subnet) as (_server_ns, client_ns):
        netns.load_rules(client_ns, "table inet czlossy {\n chain out { type filter hook "
                         "output priority 0; udp dport %d counter drop; }\n}\n" % port, tmp_path)
        result = subprocess.run(["ip", "netns", "exec", client_ns, pyz, "client", "--plain",
                                 "--name", "张三", "--lang", lang, "--port", str(port),
                                 "--connect-timeout", "2", subnet % 1],
                                capture_output=True, text=True, timeout=30,
                                stdin=subprocess.PIPE)
        assert netns.drop_counts(client_ns)[0] > 0
    assert result.returncode == 4
    line = result.stderr.strip()
    assert "\n" not in line and "Operation not permitted" not in line
    if lang == "zh":
        assert "本机防火墙拒绝发送" in line, line
        assert not re.search(r"[A-Za-z]{3,}", line.replace("chat.pyz", "").replace(
            "UDP", "").replace("nftables", "").replace("iptables", "")), line
    else:
        assert "this computer's firewall refuses to send" in line and not CJK.search(line)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_server_key_that_cannot_be_remembered_is_said_once(pyz, port, tmp_path, procs,
                                                              lang):
    """known_servers cannot be written (a folder is where its new copy goes):
    the client joins all the same and says so once, in its language."""
    config = os.path.join(os.environ["XDG_CONFIG_HOME"], "chat.pyz")
    os.makedirs(os.path.join(config, identity.KNOWN_SERVERS + ".tmp"))
    procs.append(start_server(pyz, port, tmp_path, "--state", str(tmp_path / "state")))
    me = start_client(pyz, port, "张三", tmp_path, "--lang", lang, wait_joined=False)
    procs.append(me)
    me.wait_line(lambda line: "张三" in line, timeout=30)            # joined
    path = os.path.join(config, identity.KNOWN_SERVERS)
    words = {"zh": "chat.pyz: 没法在 %s 记住服务器的密钥 (这是一个文件夹)",
             "en": "chat.pyz: cannot remember the server's key in %s (it is a folder)"}[lang]
    wait_until(lambda: words % path in me.stderr_text(), 20, "the note")
    assert me.stderr_text().count(words % path) == 1
