"""The room's database (app/net/state_db.py) and where it lives
(app/net/state_dir.py): real files in tmp_path, real SQLite."""
import os
import re
import shutil
import sqlite3
import stat
import tempfile

import pytest

from app.core.hub import LogEntry
from app.core.moderation import Rule, token_digest
from app.net import state_db, state_dir
from app.net.state_db import StateDB, StateError
from app.ui.admin_text import state_text

T0 = 1_800_000_000.0


def entry(when, what, name="张三", detail="大家好"):
    return LogEntry(when, what, name, "127.0.0.1:4000", detail)


def test_lines_survive_reopening_and_history_is_the_last_lines_oldest_first(tmp_path):
    db = StateDB.open(str(tmp_path))
    db.record([entry(T0 + i, "chat", detail="line %d" % i) for i in range(5)]
              + [entry(T0 + 9, "join"), entry(T0 + 10, "admin", "", "下课")])
    db.close()
    again = StateDB.open(str(tmp_path))
    assert [row.detail for row in again.history(3)] == ["line 3", "line 4", "下课"]
    assert [row.what for row in again.events(since=T0 + 9)] == ["join", "admin"]
    assert [row.what for row in again.events(name="张三", whats=["join"])] == ["join"]


def test_malformed_is_not_stored(tmp_path):
    # (the server's own lines are ConsoleNotes, never log entries: nothing to store)
    db = StateDB.open(str(tmp_path))
    assert db.record([entry(T0, "malformed"), entry(T0, "chat")]) == 1


def test_the_file_is_private_and_in_wal_mode(tmp_path):
    db = StateDB.open(str(tmp_path))
    path = os.path.join(str(tmp_path), state_db.DB_NAME)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert db.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_an_old_schema_is_migrated_and_a_newer_one_refused(tmp_path, monkeypatch):
    db = StateDB.open(str(tmp_path))
    db.record([entry(T0, "chat")])
    db.close()
    newer = state_db.MIGRATIONS + ("ALTER TABLE events ADD COLUMN extra TEXT",)
    monkeypatch.setattr(state_db, "MIGRATIONS", newer)
    monkeypatch.setattr(state_db, "SCHEMA_VERSION", len(newer))
    migrated = StateDB.open(str(tmp_path))
    assert migrated.conn.execute("SELECT version FROM schema").fetchone()[0] == len(newer)
    assert [row.detail for row in migrated.history(5)] == ["大家好"]
    migrated.close()
    monkeypatch.undo()
    with pytest.raises(StateError, match="db_newer"):
        StateDB.open(str(tmp_path))


def test_a_version_1_database_gains_the_hand_in_index(tmp_path, monkeypatch):
    monkeypatch.setattr(state_db, "MIGRATIONS", state_db.MIGRATIONS[:1])
    monkeypatch.setattr(state_db, "SCHEMA_VERSION", 1)
    old = StateDB.open(str(tmp_path))
    old.record([entry(T0, "chat")])
    old.close()
    monkeypatch.undo()
    db = StateDB.open(str(tmp_path))
    assert db.conn.execute("SELECT version FROM schema").fetchone()[0] == state_db.SCHEMA_VERSION
    assert db.hand_ins() == []
    assert [row.detail for row in db.history(5)] == ["大家好"]     # the old log is kept
    db.add_hand_in(T0 + 5, "张三", "作业.py", "/s/张三/x-作业.py", 12, "ab" * 32)
    db.add_hand_in(T0 + 1, "lisi", "a.txt", "/s/lisi/y-a.txt", 3, "cd" * 32)
    db.prune(T0 + 86400 * 400)                     # --retain does not forget hand-ins
    assert db.hand_ins() == [("lisi", "a.txt", "/s/lisi/y-a.txt", 3, T0 + 1, "cd" * 32),
                             ("张三", "作业.py", "/s/张三/x-作业.py", 12, T0 + 5, "ab" * 32)]


def test_prune_forgets_what_is_older_than_retain(tmp_path):
    db = StateDB.open(str(tmp_path))
    db.record([entry(T0, "chat", detail="old"), entry(T0 + 86400 * 31, "chat", detail="new")])
    assert db.prune(T0 + 86400) == 1
    assert [row.detail for row in db.events()] == ["new"]


def test_a_version_2_database_keeps_its_rules_and_gains_the_kicks_tokens(tmp_path,
                                                                          monkeypatch):
    monkeypatch.setattr(state_db, "MIGRATIONS", state_db.MIGRATIONS[:2])
    monkeypatch.setattr(state_db, "SCHEMA_VERSION", 2)
    old = StateDB.open(str(tmp_path))
    old._write([("INSERT INTO rules (kind, label, names, hosts, keys, since, until, reason) "
                 "VALUES ('ban', 'lisi', '[\"lisi\"]', '[]', '[]', ?, ?, 'rude')",
                 (T0, T0 + 600))])
    old.close()
    monkeypatch.undo()
    db = StateDB.open(str(tmp_path))
    assert db.conn.execute("SELECT version FROM schema").fetchone()[0] == state_db.SCHEMA_VERSION
    rows, _ = db.rules(T0)
    assert rows == [("ban", "lisi", '["lisi"]', "[]", "[]", T0, T0 + 600, "rude", "[]")]
    kick = Rule("kick", "wangwu", ("wangwu",), (), (), T0, T0 + 300, "", (token_digest(b"t"),))
    db.save_rules([kick.to_row()], "")
    assert [Rule.from_row(row) for row in db.rules(T0)[0]] == [kick]


def test_rules_and_motd_are_replaced_whole_and_expired_rules_not_loaded(tmp_path):
    db = StateDB.open(str(tmp_path))
    row = ("ban", "lisi", '["lisi"]', '["10.0.0.5"]', "[]", T0, T0 + 600, "rude", "[]")
    gone = ("mute", "wangwu", '["wangwu"]', "[]", "[]", T0, T0 + 10, "", "[]")
    db.save_rules([row, gone], "欢迎")
    assert db.rules(T0 + 60) == ([row], "欢迎")
    db.save_rules([], "")
    assert db.rules(T0) == ([], "")


def test_a_damaged_file_is_one_clear_error(tmp_path):
    (tmp_path / state_db.DB_NAME).write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StateError) as caught:
        StateDB.open(str(tmp_path))
    assert caught.value.key == "db_damaged"
    said = state_text(caught.value.key, caught.value.values, "en")
    assert said.startswith("the room's database %s is damaged (" % (tmp_path / state_db.DB_NAME))
    assert "\n" not in said
    assert state_text(caught.value.key, caught.value.values, "zh") == \
        "聊天室的数据库 %s 坏了；把它移到别处，就会新建一个" % (tmp_path / state_db.DB_NAME)


def test_a_read_only_file_is_one_clear_error():
    """Read-only for whoever runs the server: as root (which ignores modes) the
    opening is tried by a child that has become `nobody`."""
    where = tempfile.mkdtemp(prefix="chat-ro-")           # traversable by everyone
    try:
        StateDB.open(where).close()
        for name in os.listdir(where):
            os.chmod(os.path.join(where, name), 0o444)
        os.chmod(where, 0o555)
        reader, writer = os.pipe()
        pid = os.fork()
        if pid == 0:                                       # the child: nobody, if root
            try:
                if os.geteuid() == 0:
                    os.setgid(65534)
                    os.setuid(65534)
                try:
                    StateDB.open(where)
                    said = "OPENED"
                except StateError as exc:
                    said = "ERR %s" % exc
                os.write(writer, said.encode("utf-8"))
            finally:
                os._exit(0)
        os.close(writer)
        with os.fdopen(reader, "rb") as pipe:
            said = pipe.read().decode("utf-8")
        os.waitpid(pid, 0)
        assert said.startswith("ERR "), said
        assert re.search("db_read_only|db_unusable", said) and "\n" not in said
    finally:
        os.chmod(where, 0o700)
        shutil.rmtree(where, ignore_errors=True)


def test_a_locked_file_is_one_clear_error(tmp_path):
    StateDB.open(str(tmp_path)).close()
    holder = sqlite3.connect(str(tmp_path / state_db.DB_NAME), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StateError, match="db_locked"):
            StateDB.open(str(tmp_path))
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_open_for_server_falls_back_to_memory_with_one_line(tmp_path):
    (tmp_path / state_db.DB_NAME).write_bytes(b"garbage" * 1000)
    db, why = state_db.open_for_server(str(tmp_path), 30)
    assert db is None and why.key == "db_damaged"
    assert state_db.open_for_server(None, 30) == (None, None)


def test_readers_never_create_a_database(tmp_path):
    with pytest.raises(StateError, match="db_missing"):
        StateDB.open(str(tmp_path), readonly=True)
    assert not os.listdir(str(tmp_path))


# ------------------------------------------------------------- the directory

def test_the_default_is_the_xdg_state_dir_per_port(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    where = state_dir.state_dir(9797)
    assert where == (str(tmp_path / "state" / "chat.pyz" / "9797"), ("", ()))
    assert stat.S_IMODE(os.stat(where.path).st_mode) == 0o700


def test_an_unusable_home_falls_back_with_one_line(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.write_text("a file where the home should be: nothing can be made under it")
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    (tmp_path / "run").mkdir(mode=0o700)
    where = state_dir.state_dir(9797)
    assert where.path == str(tmp_path / "run" / "chat.pyz" / "state" / "9797")
    assert where.note == ("dir_fallback", (("path", where.path),
                                           ("usual", str(home / ".local/state/chat.pyz/9797"))))


def test_a_group_writable_state_dir_is_not_used(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(str(shared), 0o777)
    where = state_dir.state_dir(9797, str(shared))
    assert where.path is None and where.note == ("dir_refused", (("given", str(shared)),))


def test_a_symlinked_state_dir_is_not_used(tmp_path):
    (tmp_path / "real").mkdir(mode=0o700)
    os.symlink(str(tmp_path / "real"), str(tmp_path / "link"))
    assert state_dir.state_dir(9797, str(tmp_path / "link")).path is None


def test_the_msg_ids_of_clients_lines_come_back_for_the_whole_64_bit_instance(tmp_path):
    db = StateDB.open(str(tmp_path))
    high = (1 << 64) - 5                          # above SQLite's signed range
    db.record([LogEntry(T0, "chat", "a", "-", "x", high, 7),
               LogEntry(T0 + 1, "chat", "a", "-", "y", high, 9),
               LogEntry(T0 + 2, "private", "b", "-", "to a", 12345, 3),
               LogEntry(T0 + 3, "join", "c", "-", "")])
    assert sorted(db.msg_ids(T0)) == [(12345, 3), (high, 9)]
    assert db.msg_ids(T0 + 2.5) == []


def test_held_lines_are_kept_until_said_in_the_same_transaction_as_the_log(tmp_path):
    db = StateDB.open(str(tmp_path))
    origin = 0xFEDCBA9876543210                      # above 2**63: stored signed
    held = [(origin, 7, T0, "张三", "10.0.0.5:4000", 1, "", "第七行"),
            (origin, 8, T0 + 0.1, "张三", "10.0.0.5:4000", 3, "lisi", "悄悄话")]
    db.record([], held)
    db.close()
    db = StateDB.open(str(tmp_path))
    assert db.held() == held
    said = (T0 + 1, "chat", "张三", "10.0.0.5:4000", "第七行", origin, 7)
    db.record([said], (), [(origin, 7)])
    assert db.held() == held[1:]
    assert [row.detail for row in db.history(10)] == ["第七行"]
