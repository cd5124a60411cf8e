"""The room's state in SQLite: what a server restart must not lose.

One database, `room.sqlite3`, in the server's state directory
(app/net/state_dir.py). It holds:

  events      the room's log: every line, emote and announcement, joins and
              leaves, kicks, bans, refusals (what `chat.pyz log` and
              `chat.pyz report` read; the newest lines are the history a
              joiner is shown, after a restart too). Private messages are
              kept as the fact ("to NAME"), never their text.
  rules       the moderation in force: bans, kick cooldowns and mutes, as
              app.core.moderation records them (Rule.to_row / from_row).
  settings    the message of the day; the file transfers under way ('files':
              handouts within their ttl, hand-ins being received, as JSON,
              app/net/server_files.py), so a restarted server resumes them.
  schema      one row: the schema's version. Opening runs every migration
              above it, in one transaction (MIGRATIONS; append, never edit).

The core decides (app/core/hub.py, moderation.py); this shell only writes
down what they report. Durability: the network process commits the hub's new
log entries in one transaction per loop wake-up *before* the datagrams that
acknowledge them are sent (server.py `_commit`), so a `kill -9` loses no line
the server has acknowledged. WAL with synchronous=NORMAL: a commit is in the
WAL file (the OS has it) when COMMIT returns, which is what a killed process
needs; a power cut may lose the last commits (FULL would fsync each one:
docs/PERFORMANCE.md has both costs).

Every failure is a StateError with one line for a person: a read-only,
locked, damaged or foreign file at open (the server then runs in memory and
says so), a write that fails later (the same, from then on).
"""
import os
import sqlite3
import time
from typing import Iterable, List, NamedTuple, Optional, Sequence, Tuple

DB_NAME = "room.sqlite3"
BUSY_TIMEOUT_MS = 1000      # a lock held longer than this (another writer) is an error
NOT_STORED = frozenset(("malformed",))   # noise (a junk flood)

# Migration N takes the schema from version N to N + 1.
MIGRATIONS: Sequence[str] = (
    """
    CREATE TABLE events (id INTEGER PRIMARY KEY, time REAL NOT NULL, what TEXT NOT NULL,
                         name TEXT NOT NULL, addr TEXT NOT NULL, detail TEXT NOT NULL,
                         origin INTEGER NOT NULL DEFAULT 0, msg_id INTEGER NOT NULL DEFAULT 0);
    CREATE INDEX events_time ON events (time);
    CREATE TABLE rules (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, label TEXT NOT NULL,
                        names TEXT NOT NULL, hosts TEXT NOT NULL, keys TEXT NOT NULL,
                        since REAL NOT NULL, until REAL NOT NULL, reason TEXT NOT NULL);
    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    # 1 -> 2: the hand-in index (issue 19): who handed in which file, when,
    # where it is stored and its SHA-256 (hex). Not pruned by --retain.
    """
    CREATE TABLE hand_ins (id INTEGER PRIMARY KEY, time REAL NOT NULL, name TEXT NOT NULL,
                           file TEXT NOT NULL, stored TEXT NOT NULL, size INTEGER NOT NULL,
                           sha256 TEXT NOT NULL);
    CREATE INDEX hand_ins_name ON hand_ins (name);
    """,
    # 2 -> 3: a kick's refused client tokens (moderation.Rule.tokens: SHA-256
    # of each, hex, as a JSON list), so a kick holds across a restart.
    """
    ALTER TABLE rules ADD COLUMN tokens TEXT NOT NULL DEFAULT '[]';
    """,
    # 3 -> 4: lines acknowledged and held by flood control, not said yet
    # (hub.HeldLine): a new run says them (a kill -9 loses no acknowledged line).
    """
    CREATE TABLE held (origin INTEGER NOT NULL, msg_id INTEGER NOT NULL, time REAL NOT NULL,
                       name TEXT NOT NULL, addr TEXT NOT NULL, kind INTEGER NOT NULL,
                       target TEXT NOT NULL, text TEXT NOT NULL,
                       PRIMARY KEY (origin, msg_id));
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)
HISTORY_WHAT = ("chat", "emote", "admin")   # LogKind values that are room history


def _signed(instance: int) -> int:
    """A client instance (64 bits, unsigned) as SQLite's signed 64-bit integer."""
    return instance - (1 << 64) if instance >= 1 << 63 else instance


class StateError(Exception):
    """What is wrong with the database: a key (db_read_only, db_locked,
    db_damaged, db_unusable, db_missing, db_newer, or a reader's own) and its
    values, which the front end that shows it words in one line and its
    language (app/ui/admin_text.py state_text). str() gives them plainly."""

    def __init__(self, key: str, **values: object) -> None:
        self.key = key
        self.values: Tuple[Tuple[str, str], ...] = tuple(
            (name, str(value)) for name, value in sorted(values.items()))
        super().__init__(key, self.values)

    def __str__(self) -> str:
        return " ".join([self.key] + ["%s=%s" % pair for pair in self.values])


class Row(NamedTuple):
    """One stored room log entry (the fields of app.core.hub.LogEntry)."""
    time: float
    what: str
    name: str
    addr: str
    detail: str
    origin: int = 0          # a client's line: its sender's instance (as a signed 64-bit
    msg_id: int = 0          # integer: SQLite's) and msg_id


def _why(exc: BaseException, path: str) -> "StateError":
    text = str(exc)
    if "readonly" in text or "read-only" in text or isinstance(exc, PermissionError):
        return StateError("db_read_only", path=path)
    if "locked" in text or "busy" in text:
        return StateError("db_locked", path=path)
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return StateError("db_damaged", path=path, error=text)
    return StateError("db_unusable", path=path, error=text)


class StateDB:
    """An open room database. Every method raises StateError, nothing else."""

    def __init__(self, conn: sqlite3.Connection, path: str) -> None:
        self.conn = conn
        self.path = path

    @classmethod
    def open(cls, directory: str, readonly: bool = False) -> "StateDB":
        """Open (and create, and migrate) DIR/room.sqlite3. `readonly` is for
        the readers (`chat.pyz log`): no migration, no write, and a missing
        database is an error."""
        path = os.path.join(directory, DB_NAME)
        try:
            if readonly:
                if not os.path.exists(path):
                    raise StateError("db_missing", directory=directory)
                conn = sqlite3.connect("file:%s?mode=ro" % path, uri=True,
                                       timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            else:
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)   # ours alone, from the start
                os.close(fd)
                conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000,
                                       isolation_level=None, check_same_thread=False)
        except (sqlite3.Error, OSError) as exc:
            raise _why(exc, path)
        db = cls(conn, path)
        try:
            if readonly:
                db._check_version(db._version())
            else:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                db._migrate()
        except sqlite3.Error as exc:
            conn.close()
            raise _why(exc, path)
        except StateError:
            conn.close()
            raise
        return db

    def _version(self) -> int:
        try:
            row = self.conn.execute("SELECT version FROM schema").fetchone()
        except sqlite3.OperationalError as exc:
            if "no such table" not in str(exc):
                raise
            return 0
        return int(row[0]) if row else 0

    def _check_version(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise StateError("db_newer", path=self.path, version=version, known=SCHEMA_VERSION)

    def _migrate(self) -> None:
        """Bring the schema up to SCHEMA_VERSION in one write transaction. The
        write is also the probe: a read-only or locked file fails here, at
        start, not at the first line."""
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = self._version()
            self._check_version(version)
            if version == 0:
                conn.execute("CREATE TABLE IF NOT EXISTS schema (version INTEGER NOT NULL)")
            for script in MIGRATIONS[version:]:
                for statement in script.split(";"):
                    if statement.strip():
                        conn.execute(statement)
            conn.execute("DELETE FROM schema")
            conn.execute("INSERT INTO schema (version) VALUES (?)", (SCHEMA_VERSION,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _write(self, statements: Iterable[Tuple[str, Sequence]],
               many: Optional[Tuple[str, List[tuple]]] = None) -> None:
        """Run the statements (and `many`: one statement, many rows) in one
        transaction: all of it is stored or none."""
        conn = self.conn
        try:
            conn.execute("BEGIN")
            try:
                for sql, params in statements:
                    conn.execute(sql, params)
                if many is not None:
                    conn.executemany(*many)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise _why(exc, self.path)

    # ------------------------------------------------------------ writers

    def record(self, entries: Iterable[Sequence], held: Sequence[Sequence] = (),
               said: Sequence[Tuple[int, int]] = ()) -> int:
        """The room's new log entries (hub.LogEntry or tuples of its fields),
        the lines newly held by flood control (hub.HeldLine) and the (origin,
        msg_id) of held lines now said or given up, in one transaction;
        returns how many log entries were stored."""
        rows = [(e[0], str(e[1]), e[2], e[3], e[4], _signed(e[5]) if len(e) > 5 else 0,
                 e[6] if len(e) > 6 else 0)
                for e in entries if str(e[1]) not in NOT_STORED]
        statements: List[Tuple[str, Sequence]] = [
            ("INSERT OR REPLACE INTO held (origin, msg_id, time, name, addr, kind, target, "
             "text) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (_signed(h[0]),) + tuple(h[1:]))
            for h in held]
        statements += [("DELETE FROM held WHERE origin = ? AND msg_id = ?",
                        (_signed(origin), msg_id)) for origin, msg_id in said]
        if rows or statements:
            self._write(statements, ("INSERT INTO events (time, what, name, addr, detail, "
                                     "origin, msg_id) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
                        if rows else None)
        return len(rows)

    def save_rules(self, rows: Iterable[Sequence], motd: str) -> None:
        """The moderation in force (moderation.Rule.to_row rows) and the motd,
        replacing what was stored: a few rows, written whole on every change."""
        statements: List[Tuple[str, Sequence]] = [("DELETE FROM rules", ())]
        statements += [("INSERT INTO rules (kind, label, names, hosts, keys, since, until, "
                        "reason, tokens) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        tuple(row) if len(row) > 8 else tuple(row) + ("[]",)) for row in rows]
        statements.append(("INSERT OR REPLACE INTO settings (key, value) VALUES ('motd', ?)",
                           (motd,)))
        self._write(statements)

    def prune(self, before: float) -> int:
        """Forget the log before `before` (--retain) and the rules over by then."""
        try:
            count = self.conn.execute("SELECT COUNT(*) FROM events WHERE time < ?",
                                      (before,)).fetchone()[0]
        except sqlite3.Error as exc:
            raise _why(exc, self.path)
        self._write([("DELETE FROM events WHERE time < ?", (before,)),
                     ("DELETE FROM rules WHERE until < ?", (before,))])
        return int(count)

    def add_hand_in(self, when: float, name: str, file: str, stored: str, size: int,
                    sha256: str) -> None:
        self._write([("INSERT INTO hand_ins (time, name, file, stored, size, sha256) "
                      "VALUES (?, ?, ?, ?, ?, ?)", (when, name, file, stored, size, sha256))])

    def save_files(self, value: str) -> None:
        """The file transfers under way (JSON, server_files.py), replacing the last."""
        self._write([("INSERT OR REPLACE INTO settings (key, value) VALUES ('files', ?)",
                      (value,))])

    # ------------------------------------------------------------ readers

    def files(self) -> str:
        """What save_files stored ("" if nothing)."""
        rows = self._read("SELECT value FROM settings WHERE key = 'files'")
        return str(rows[0][0]) if rows else ""

    def hand_ins(self) -> List[Tuple[str, str, str, int, float, str]]:
        """Every hand-in kept, oldest first: (name, file, stored path, size,
        time, sha256 hex)."""
        return [tuple(row) for row in self._read(
            "SELECT name, file, stored, size, time, sha256 FROM hand_ins ORDER BY time, id")]

    def _read(self, sql: str, params: Sequence = ()) -> list:
        try:
            return self.conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise _why(exc, self.path)

    def history(self, lines: int) -> List[Row]:
        """The last `lines` chat lines, emotes and announcements, oldest first."""
        if lines <= 0:
            return []
        rows = self._read("SELECT time, what, name, addr, detail, origin, msg_id FROM events "
                          "WHERE what IN (?, ?, ?) ORDER BY id DESC LIMIT ?",
                          HISTORY_WHAT + (lines,))
        return [Row(time, what, name, addr, detail,
                    origin=(origin or 0) & 0xFFFFFFFFFFFFFFFF, msg_id=msg_id or 0)
                for time, what, name, addr, detail, origin, msg_id in reversed(rows)]

    def held(self) -> List[tuple]:
        """The held lines not said yet (hub.HeldLine rows), oldest first."""
        return [((origin or 0) & 0xFFFFFFFFFFFFFFFF,) + tuple(rest) for origin, *rest in
                self._read("SELECT origin, msg_id, time, name, addr, kind, target, text "
                           "FROM held ORDER BY time, origin, msg_id")]

    def msg_ids(self, since: float) -> List[Tuple[int, int]]:
        """(instance, highest msg_id) of the clients' lines stored since `since`."""
        rows = self._read("SELECT origin, MAX(msg_id) FROM events WHERE time >= ? AND "
                          "origin != 0 GROUP BY origin", (since,))
        return [(origin & 0xFFFFFFFFFFFFFFFF, int(msg_id)) for origin, msg_id in rows]

    def rules(self, now: float) -> Tuple[List[tuple], str]:
        """The rules still in force at `now` (rows for moderation.Rule.from_row)
        and the motd."""
        rows = self._read("SELECT kind, label, names, hosts, keys, since, until, reason, "
                          "tokens FROM rules WHERE until > ? ORDER BY id", (now,))
        motd = self._read("SELECT value FROM settings WHERE key = 'motd'")
        return [tuple(row) for row in rows], (motd[0][0] if motd else "")

    def events(self, since: float = 0.0, name: Optional[str] = None,
               whats: Optional[Sequence[str]] = None) -> List[Row]:
        """The log from `since` on, oldest first; only `name`'s entries (exact
        spelling) and only the kinds `whats` when given."""
        sql = "SELECT time, what, name, addr, detail FROM events WHERE time >= ?"
        params: List = [since]
        if name is not None:
            sql += " AND name = ?"
            params.append(name)
        if whats:
            sql += " AND what IN (%s)" % ", ".join("?" * len(whats))
            params += list(whats)
        return [Row(*row) for row in self._read(sql + " ORDER BY id", params)]

    def close(self) -> None:
        try:
            self.conn.close()
        except sqlite3.Error:
            pass


def open_for_server(directory: Optional[str], retain_days: float,
                    now: Optional[float] = None) -> Tuple[Optional[StateDB], Optional[StateError]]:
    """The server's database, or None and why (None: no directory to look in)
    when the room must run in memory. Prunes to --retain on open."""
    if directory is None:
        return None, None
    try:
        db = StateDB.open(directory)
        db.prune((time.time() if now is None else now) - retain_days * 86400)
    except StateError as exc:
        return None, exc
    return db, None
