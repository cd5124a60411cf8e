"""`chat.pyz server`: the network process and its forked admin side.

The network process owns the UDP socket and the Hub (the pure room logic) and
runs one `selectors` loop over the socket, the local admin link and a signal
self-pipe. The admin side (curses console, or headless stdin/stdout) is a
forked child joined by a channel (app.net.channel; the messages are
app.core.console_messages): it sends commands, the core applies them
(app.core.admin) and the results go back for the console to word. If the
curses console dies while its terminal is still there, a line-mode console
takes its place on that terminal (so the teacher never loses moderation); if
a line-mode console dies, the room carries on without one and logs to stdout.
SIGINT/SIGTERM/`/quit` tell every client the server is closing.
"""
import errno
import json
import os
import select
import selectors
import signal
import socket
import sys
import termios
import time
from typing import Callable, List, Optional, Sequence, Tuple, Union, cast

from app.core import admin, discovery_wire, file_wire, problems, protocol
from app.core.admin import LogKind
from app.core import console_messages as C
from app.core.console_messages import (
    ConsoleBye,
    ConsoleHints,
    ConsoleLog,
    ConsoleNote,
    LogRow,
    ConsoleState,
    ConsoleSubscribe,
)
from app.core.exit_codes import ExitCode
from app.core.flood import TokenBucket
from app.core.hub import Hub, HubConfig, LogEntry
from app.core.join_hints import Hint, host_port_text
from app.core.options import LINE_BURST_SECONDS, ServerOptions
from app.core.pacing import LOOK, TAKE_HELD, FanOutPacer
from app.core.secure_server import SecureServer
from app.core.secure_session import KeyPair
from app.net import discovery, primitives
from app.net import door as doors
from app.net import identity as keys
from app.net.admin_log import entry_record
from app.net.channel import Channel
from app.net.processes import Child, fork_child
from app.net.server_files import ServerFiles
from app.net.signals import SignalPipe
from app.net.state_db import StateDB, StateError, open_for_server
from app.net.state_dir import StateDir, state_dir

SOCKET_BUFFER = 4 << 20    # a 2000-client fan-out's acks fit (docs/DESIGN.md, "Why the numbers are what they are")
MSG_ID_MEMORY = 3600.0     # a new run knows the msg_ids of the lines stored this recently
PRUNE_INTERVAL = 86400.0  # the room's database is pruned to --retain at start and daily
STATE_INTERVAL = 1.0       # how often a subscribed console gets the online list
DRAIN_LIMIT = 2000         # datagrams handled per wake-up before timers get a turn
# The door (app/net/door.py): session-opening datagrams read at most this many a
# second; the rest of a flood is dropped by the kernel at the door's buffer, so a
# newcomer's INIT gets in with the odds DOOR_RATE / flood rate (it needs two). With
# a door this is also the secure layer's INIT budget. Under a 300 000/s forged
# flood it costs the server ~35 % of a core (10 000: ~10 %, and 0 of 5 newcomers
# got in within 10 s; 30 000: 5 of 5 within 0.6 s; docs/SECURITY.md). A
# 1000-client join storm (2000 INITs) is one burst.
DOOR_RATE = 30000.0
DOOR_BURST = 30000.0
DOOR_BATCH = 256           # door datagrams per wake-up at most
DOOR_REOPEN = 64           # once the door's budget is spent: wait for this many tokens
DOOR_BUFFER = 1 << 20      # the door's receive buffer: a 1000-client join storm's INITs
                           # fit (the default, ~208 KiB, holds ~256 and the rest wait
                           # for their client's resend); under a flood, at most ~0.2 s
                           # of the door's rate waits in it
# Datagrams of the secure layer's slow lane (handshakes, joins: SecureServer.
# receive) handled per turn of the loop, after what the members' datagrams
# made has been sent: ~150 us each at most (a handshake's public-key work), so
# a turn's batch delays the room's next line by a few milliseconds.
DEFERRED_PER_TURN = 32
# A fan-out's pacing (slices, looks at the socket, held acks) is
# app/core/pacing.py: FAN_OUT_SLICE, HELD_ACKS_MAX, FAN_OUT_JOINS_FOR.
CHILD_GRACE = 1.0
LOG_BATCH = 16000          # bytes of log entries per ConsoleLog message (limit 64 KiB)
LOG_ENTRY_OVERHEAD = 40    # bytes of JSON around the fields of one entry (time, quotes)
LOG_INTERVAL = 0.05        # the console gets the room's log at most this often (_pass_log)
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD)


def open_socket(bind: str, port: int) -> socket.socket:
    """Bind the UDP socket: dual-stack IPv6 for "all interfaces" where possible."""
    if bind == "":
        try:
            sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            sock.bind(("::", port))
            return sock
        except OSError as exc:
            sock.close()
            if exc.errno == errno.EADDRINUSE:
                raise
        bind = "0.0.0.0"
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.bind((bind, port))
    except OSError:
        sock.close()
        raise
    return sock


def bind_error(exc: OSError, bind: str, port: int) -> C.StartProblem:
    """Why the socket could not be bound, for the front end to word."""
    where = "%s:%d" % (bind or "*", port)
    if exc.errno == errno.EADDRINUSE:
        return C.StartProblem.of("bind_in_use_on" if bind else "bind_in_use", port=port,
                                 bind=bind)
    if exc.errno in (errno.EACCES, errno.EPERM):
        return C.StartProblem.of("bind_denied", where=where)
    if exc.errno == errno.EADDRNOTAVAIL:
        return C.StartProblem.of("bind_not_here", bind=bind)
    return C.StartProblem.of("bind_failed", where=where, error=problems.errno_name(exc.errno))


def listen_text(host: str, port: int) -> str:
    """The socket's address as the console's status line shows it: `*:9797` when
    it listens on all interfaces (not the dual-stack socket's `:::9797`)."""
    if host.startswith("::ffff:") and "." in host:
        host = host[7:]                   # an IPv4 address on a dual-stack socket
    return host_port_text("*" if host in ("::", "0.0.0.0") else host, port)


ConsoleRunner = Callable[[Channel, bool, ServerOptions], int]
# What the headless console would print for a message (ConsoleLog, ConsoleNote,
# ConsoleHints), in the console's language: the network process prints it
# itself once no console is left (app.cli passes admin_headless.lines).
Wording = Callable[[object], List[str]]


def run(options: ServerOptions, run_console: ConsoleRunner, wording: Wording) -> int:
    """Serve the room until told to stop. `run_console(channel, headless, options)`
    is the admin side, run in the forked child; `wording` words what it would
    have shown once it is gone (app.cli chooses both: this module never imports
    a front end)."""
    def fail(problem: C.StartProblem) -> int:
        for line in wording(problem):
            print(line, file=sys.stderr)
        return ExitCode.ERROR

    try:
        sock, door = doors.split(open_socket(options.bind, options.port))
    except socket.gaierror as exc:          # (an OSError too: first)
        return fail(C.StartProblem.of("bind_bad", bind=options.bind, error=exc))
    except OSError as exc:
        return fail(bind_error(exc, options.bind, options.port))
    where = state_dir(options.port, options.state)
    identity: Optional[KeyPair] = None
    if not options.insecure:
        try:
            identity = server_identity(where.path, wording)
        except (keys.KeyStoreError, keys.CryptoUnavailable) as exc:
            close_sockets(sock, door)
            return fail(C.StartProblem.of("coded", problem=exc))
    transcript = None
    if options.log:
        try:
            transcript = Transcript(options.log)
        except OSError as exc:
            close_sockets(sock, door)
            return fail(C.StartProblem.of("log_unwritable", path=options.log,
                                          error=problems.errno_name(exc.errno)))
    # sys.stdin is None when the server was started with stdin closed (`<&-`).
    headless = options.headless or not (sys.stdout.isatty() and sys.stdin is not None
                                         and sys.stdin.isatty())
    tty_modes = None if headless else _tty_modes()
    console = fork_console(run_console, headless, options, lambda: close_sockets(sock, door))
    store, notes = open_store(options, where)   # after the fork: the console never holds it
    server = NetworkProcess(sock, console.channel, console.pid, options, transcript, store,
                            identity, where.path, door)
    server.wording = wording
    server.start_notes = notes
    server.tty_modes = tty_modes
    if tty_modes is not None:
        server.console_runner = run_console      # to replace the curses console if it dies
    return server.serve()


def close_sockets(sock: socket.socket, door: Optional[socket.socket]) -> None:
    """The room's socket and its door (app/net/door.py), if it has one."""
    sock.close()
    if door is not None:
        door.close()


def server_identity(directory: Optional[str], wording: Wording) -> KeyPair:
    """The server's long-term key, kept in its state dir (docs/SECURITY.md);
    where there is none, one for this run (the state dir's note says why;
    where it cannot be kept, a line worded by `wording`)."""
    why = primitives.unavailable()
    if why is not None:
        raise keys.CryptoUnavailable(problems.detail("no_crypto", None, why))
    if directory is None:
        return primitives.new_keypair()
    notes: List[str] = []
    pair = keys.server_identity(directory, notes)
    for note in notes:
        for line in wording(C.StartProblem.of("coded", problem=note)):
            print(line, file=sys.stderr)
    return pair


def open_store(options: ServerOptions, where: StateDir
               ) -> Tuple[Optional[StateDB], List[Tuple[str, C.Values, str]]]:
    """The room's database (None: in memory) and what to say about it: (key,
    values, memory) for a NOTE_STATE each."""
    store, why = open_for_server(where.path, options.retain_days)
    notes = []
    if where.note[0]:
        notes.append((where.note[0], where.note[1], "" if where.path else "run"))
    if why is not None:
        notes.append((why.key, why.values, "run"))
    return store, notes


def fork_console(run_console: ConsoleRunner, headless: bool, options: ServerOptions,
                 leave: Callable[[], None]) -> Child:
    """Fork the admin side: `run_console(its channel, headless, options)` runs in
    the child once `leave()` there has let go of what is the network process's
    (at least the UDP socket: a console outliving us must not hold the port)."""
    def console(link: Channel) -> int:
        leave()
        return run_console(link, headless, options)
    return fork_child(console)


class Transcript:
    """--log FILE: one JSON object per room event, appended. Each line goes out
    in one write() on an O_APPEND descriptor, so a crash can at worst cut the
    line being written, never an earlier one."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def write(self, entry: LogEntry) -> None:
        line = json.dumps(entry_record(entry), ensure_ascii=False) + "\n"
        try:
            os.write(self.fd, line.encode("utf-8"))
        except OSError:
            pass                      # a full disk must not stop the room


def _tty_modes():
    try:
        return termios.tcgetattr(sys.stdin.fileno())
    except (termios.error, OSError):
        return None


class NetworkProcess:
    tty_modes = None     # the terminal's modes before the console began, to mend them
    # Set while a curses console is in place: forks the line-mode console that
    # replaces it if it dies (app.cli's runner, with headless=True; the only one).
    console_runner: Optional[ConsoleRunner] = None

    # (key, values, memory) about the state dir, shown after the start line (open_store)
    start_notes: List[Tuple[str, C.Values, str]] = []
    # Words what a console would show, for our own stdout once no console is left.
    wording: Optional[Wording] = None

    def __init__(self, sock: socket.socket, link: Channel, admin_pid: int,
                 options: ServerOptions, transcript: Optional["Transcript"] = None,
                 store: Optional[StateDB] = None, identity: Optional[KeyPair] = None,
                 state_path: Optional[str] = None, door: Optional[socket.socket] = None
                 ) -> None:
        self.sock = sock
        # Where session-opening datagrams arrive, read within a budget (app/net/door.py);
        # None: they come to `sock` with the rest.
        self.door = door
        self.door_budget = TokenBucket(DOOR_RATE, DOOR_BURST, time.monotonic())
        self.door_shut_until: Optional[float] = None    # budget spent: unregistered till then
        self.transcript = transcript
        self.store = store                # the room's database; None: in memory
        self.log_new: List[LogEntry] = []  # log entries committed, not yet passed on
        self.next_prune = 0.0
        self.subscribed = False
        self.next_state = 0.0
        self.log_backlog: List[LogEntry] = []   # log entries the console has not been sent yet
        self.log_due = 0.0                # ... which go when time.monotonic() reaches this
        self.messages_seen = (0.0, 0)     # (time, messages) at the last state report
        self.link = link
        self.console_oversized = 0        # messages too big for the channel, not sent
        self.console_pids = [admin_pid] if admin_pid else []   # consoles not reaped yet
        self.hints: List[Hint] = []       # how to join (_announce_start)
        self.options = options
        self.stop_reason = ""
        for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
            try:
                sock.setsockopt(socket.SOL_SOCKET, option, SOCKET_BUFFER)
            except OSError:
                pass
        sock.setblocking(False)
        if door is not None:
            door.setblocking(False)
            try:
                door.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, DOOR_BUFFER)
            except OSError:
                pass
        self.incoming = select.poll()      # the socket alone: looked at during a fan-out
        self.incoming.register(sock, select.POLLIN)
        now = time.monotonic()
        self.clock_offset = time.time() - now    # event times are wall-clock seconds
        self.hub = Hub(self.wall(now), os.urandom(32),
                       HubConfig(history_lines=options.history,
                                 max_sessions=options.max_clients,
                                 max_per_ip=options.max_per_ip,
                                 msg_rate=options.line_rate,
                                 msg_burst=options.line_rate * LINE_BURST_SECONDS,
                                 kick_cooldown=options.kick_cooldown,
                                 addresses_verified=identity is not None),
                       room_key=options.room_key)
        # The secure layer in front of the hub (app/core/secure_server.py), or
        # with --insecure the hub itself: both take datagrams and give output.
        self.secure: Optional[SecureServer] = None
        self.front: Union[Hub, SecureServer] = self.hub
        if identity is not None:
            self.secure = self.front = SecureServer(
                self.hub, primitives.LibcryptoSuite(options.password), identity,
                os.urandom(32), options.password is not None, self.wall(now))
            if self.door is not None:
                # The door's rate bounds what INITs cost; the server's own INIT
                # budget (sized for one shared socket) would only make a
                # newcomer's INIT, read at the door, lose again to a flood's.
                self.secure.init_budget = TokenBucket(DOOR_RATE, DOOR_BURST, now)
        self.files = ServerFiles(self.hub, options, state_path, sock)   # handouts, hand-ins
        self.files.record = self._record_hand_in
        self.files.save = self._save_files
        self.files.flush = self._flush_files
        if store is not None:
            self._restore(store)

    # ------------------------------------------------------------ state

    def _restore(self, store: StateDB) -> None:
        """What the room's database kept: the rules in force, the motd and the
        last lines for the history."""
        try:
            rows, motd = store.rules(self.now())
            self.hub.restore_moderation(self.now(), rows, motd)
            self.hub.load_past(store.history(self.options.history))
            self.hub.load_msg_ids(store.msg_ids(self.now() - MSG_ID_MEMORY))
            self.hub.restore_held(self.now(), store.held())
            self.files.restore(store.hand_ins())
            self.files.restore_files(self.now(), store.files())
        except StateError as exc:
            self._lose_store(exc)
        self.next_prune = time.monotonic() + PRUNE_INTERVAL   # (open_for_server pruned)

    def _commit(self) -> None:
        """The hub's new log entries into the room's database, one transaction,
        before anything that acknowledges their lines is sent: called before
        every send of the hub's output, so a kill -9 loses no acknowledged line."""
        entries = self.hub.take_log()
        held, said = self.hub.take_held()
        if not (entries or held or said):
            return
        self.log_new += entries
        if self.store is not None:
            try:
                self.store.record(entries, held, said)
            except StateError as exc:
                self._lose_store(exc)

    def _record_hand_in(self, row) -> None:
        """A hand-in into the index (app/net/state_db.py hand_ins)."""
        if self.store is not None:
            try:
                self.store.add_hand_in(row[4], row[0], row[1], row[2], row[3], row[5])
            except StateError as exc:
                self._lose_store(exc)

    def _save_files(self, value: str) -> None:
        """The file transfers under way (app/net/server_files.py) into the database."""
        if self.store is not None:
            try:
                self.store.save_files(value)
            except StateError as exc:
                self._lose_store(exc)

    def _lose_store(self, why: StateError) -> None:
        """A write failed (disk full, file taken away): on in memory, said once."""
        store, self.store = self.store, None
        if store is not None:
            store.close()
            self.start_notes = []
            self._note(C.NOTE_STATE, problem=why.key, memory="now", **dict(why.values))

    def _prune(self) -> None:
        if self.store is None or time.monotonic() < self.next_prune:
            return
        self.next_prune = time.monotonic() + PRUNE_INTERVAL
        try:
            self.store.prune(self.now() - self.options.retain_days * 86400)
        except StateError as exc:
            self._lose_store(exc)

    def wall(self, monotonic: float) -> float:
        return monotonic + self.clock_offset

    def now(self) -> float:
        return self.wall(time.monotonic())

    # ------------------------------------------------------------ loop

    def serve(self) -> int:
        self.signals = SignalPipe(SIGNALS)
        sel = selectors.DefaultSelector()
        sel.register(self.sock, selectors.EVENT_READ, "udp")
        if self.door is not None:
            sel.register(self.door, selectors.EVENT_READ, "door")
        sel.register(self.link.fileno(), selectors.EVENT_READ, "admin")
        sel.register(self.signals.fileno(), selectors.EVENT_READ, "signals")
        self._announce_start()
        while not self.stop_reason:
            due = self.front.next_deadline()
            files_due = self.files.next_deadline(self.now())
            if files_due is not None:
                due = min(due, files_due)
            if self.subscribed:
                due = min(due, self.next_state)
            if self.log_backlog:
                due = min(due, self.wall(self.log_due))
            if self.door_shut_until is not None:
                due = min(due, self.wall(self.door_shut_until))
            timeout = max(0.0, due - self.now())
            for key, _ in sel.select(timeout):
                if key.data == "udp":
                    self._drain_socket()
                elif key.data == "door":
                    self._read_door(sel)
                elif key.data == "admin":
                    self._on_admin(sel)
                else:
                    self._on_signals(self.signals.take())
            self.front.tick(self.now())
            self._send_output()
            self._reopen_door(sel)
            if self.secure is not None and self.secure.deferred:
                self.secure.run_deferred(self.now(), DEFERRED_PER_TURN)
                self._send_output()
            self._file_turn()
            self._pass_log()
            self._prune()
            if self.subscribed and self.now() >= self.next_state:
                self._send_state()
        self._shut_down()
        return ExitCode.OK

    def _on_signals(self, signums) -> None:
        for signum in signums:
            if signum == signal.SIGCHLD:
                self._reap_admin()
            elif signum == signal.SIGHUP and self.link.closed:
                continue            # no terminal any more: keep serving headless
            else:
                self.stop_reason = signal.Signals(signum).name

    def _drain_socket(self, pacer: Optional[FanOutPacer] = None,
                      sock: Optional[socket.socket] = None, limit: int = DRAIN_LIMIT) -> int:
        """What is in the members' socket (or `sock`), `limit` datagrams at most,
        into the hub; during a fan-out (`pacer`) bare room acks wait in the pacer.
        Returns how many datagrams were read."""
        hub = self.hub
        now = self.now()
        # Names looked up once: under a flood this loop is most of the server's work.
        recvfrom = (sock or self.sock).recvfrom
        on_datagram = self.secure.receive if self.secure is not None else hub.on_datagram
        size, probe = protocol.MAX_FILE_DATAGRAM + 1, discovery_wire.PROBE_MAGIC[:3]
        size_ok = file_wire.size_ok
        # A broadcast or multicast probe reaches both sockets of a door pair (the
        # kernel steers unicast only): the door answers it, the members' socket not.
        probes_here = self.door is None or sock is self.door
        read = limit                  # unless the socket runs dry first
        for taken in range(limit):
            try:
                data, addr = recvfrom(size)
            except (BlockingIOError, InterruptedError):
                read = taken
                break
            except OSError:
                continue              # e.g. an ICMP error for an earlier send
            if not size_ok(data):     # only FILE datagrams may be larger than MAX_DATAGRAM
                hub.stats["malformed"] += 1
                continue
            if data[:3] == probe:     # LAN discovery (docs/LAN.md)
                if not probes_here:
                    continue
                if discovery_wire.is_probe(data):  # (a stray answer is neither ours nor junk)
                    hub.stats["probes"] = hub.stats.get("probes", 0) + 1
                    answer = discovery.responder(now).answer(
                        now, data, self.sock.getsockname()[1], len(hub.members()),
                        hub.room_key is not None or self.options.password is not None)
                    if answer is not None:
                        self._send([(answer, addr)])
                continue
            if pacer is not None and pacer.hold(data, addr):
                continue
            on_datagram(now, data, addr)
        hub.flush(now)
        return read

    def _read_door(self, sel: selectors.BaseSelector) -> None:
        """Session-opening datagrams, as many as the door's budget allows; once it
        is spent the door is not watched until DOOR_REOPEN tokens are back, and
        what arrives meanwhile beyond the door's buffer the kernel drops."""
        door, budget, now = cast(socket.socket, self.door), self.door_budget, time.monotonic()
        allowed = min(budget.whole_tokens(now), DOOR_BATCH)
        read = self._drain_socket(sock=door, limit=allowed) if allowed else 0
        budget.spend(read)
        if read == allowed and budget.whole_tokens(now) == 0:
            sel.unregister(door)
            self.door_shut_until = now + DOOR_REOPEN / DOOR_RATE
            self.hub.stats["door_shut"] = self.hub.stats.get("door_shut", 0) + 1

    def _reopen_door(self, sel: selectors.BaseSelector) -> None:
        if self.door_shut_until is not None and time.monotonic() >= self.door_shut_until:
            self.door_shut_until = None
            sel.register(cast(socket.socket, self.door), selectors.EVENT_READ, "door")

    def _take_held_acks(self, pacer: FanOutPacer) -> None:
        hub, now = self.hub, self.now()
        for data, addr in pacer.take_held():
            self.front.on_datagram(now, data, addr)
        hub.flush(now)

    def _send_output(self) -> None:
        """What the hub has to send; a fan-out a slice at a time, as the
        pacer says (app/core/pacing.py)."""
        hub = self.hub
        pacer = FanOutPacer(time.monotonic())
        while True:
            self._commit()                # what the acks in this output acknowledge
            self._send(self.front.take_output(pacer.slice))
            if not hub.fanning_out:
                break
            step = pacer.after_slice(time.monotonic())
            if step is TAKE_HELD:
                self._take_held_acks(pacer)
            elif step is LOOK and self.incoming.poll(0):
                # A line that came meanwhile joins this fan-out (room_stream.py).
                self._drain_socket(pacer)
        if pacer.held:
            self._take_held_acks(pacer)
            self._commit()
            self._send(self.front.take_output())     # what they released, all of it

    def _file_turn(self) -> None:
        """Files after the room: chat has gone out (_send_output) before the
        first chunk, and a turn sends a budget of chunks at most, so a line
        that comes meanwhile waits for one turn, not for a file."""
        self.files.turn(self.now())
        if self.hub.outbox:
            self._commit()
            self._send(self.front.take_output())

    def _flush_files(self) -> None:
        """The files' acks (and chunks) now, before the turn writes what came."""
        self._commit()
        self._send(self.front.take_output())

    def _send(self, output) -> None:
        sendto = self.sock.sendto
        for data, addr in output:
            try:
                sendto(data, addr)
            except (BlockingIOError, InterruptedError):
                pass                  # a full send buffer loses it; retransmission repairs
            except OSError:
                pass                  # unreachable peers are the liveness sweep's business

    # ------------------------------------------------------------ admin

    def _on_admin(self, sel) -> None:
        # Signals that came before this news from the console are judged with the
        # console as it was then: a terminal hang-up ends the console and sends us
        # SIGHUP at once, and must stop us, not count as "console already gone".
        self._on_signals(self.signals.take())
        messages = self.link.receive()
        for message in messages or []:
            self._admin_message(message)
        if messages is None:
            sel.unregister(self.link.fileno())
            self.link.close()
            self.subscribed = False
            self._reap_admin()
            if self._terminal_hung_up():
                # The console saw the hang-up first (its terminal read failed) and
                # ended before our SIGHUP came: the window was closed all the same.
                self.stop_reason = "SIGHUP"
                return
            self._mend_terminal()
            runner, self.console_runner = self.console_runner, None
            if runner is not None:
                self._replace_console(sel, runner)
            else:
                self._note(C.NOTE_CONSOLE_ENDED)
            self._show_hints()          # a teacher who lost the console's screen lost them too

    def _replace_console(self, sel: selectors.BaseSelector, run_console: ConsoleRunner) -> None:
        """The curses console ended and the terminal is still ours: a line-mode
        console takes its place there (once: if it dies too, we go on without)."""
        console = fork_console(run_console, True, self.options, self._leave_to_console)
        self.link = console.channel
        self.console_pids.append(console.pid)
        sel.register(self.link.fileno(), selectors.EVENT_READ, "admin")
        self._note(C.NOTE_CONSOLE_REPLACED)

    def _leave_to_console(self) -> None:
        """In a console forked from the running loop (the child's side): let go of
        the room's sockets, the transcript and our signal pipe, and take signals as
        a new process does (a hang-up ends it; SIGINT it ignores itself)."""
        close_sockets(self.sock, self.door)
        if self.transcript is not None:
            os.close(self.transcript.fd)
        for signum in SIGNALS:
            signal.signal(signum, signal.SIG_DFL)
        os.close(self.signals.read_fd)
        os.close(self.signals.write_fd)

    def _admin_message(self, message: object) -> None:
        if isinstance(message, admin.COMMAND_TYPES):
            self._tell_console(self._admin_command(cast(admin.Command, message)))
        elif isinstance(message, ConsoleSubscribe):
            self.subscribed = True
            self.next_state = 0.0

    def _admin_command(self, command: admin.Command) -> admin.Result:
        """The core applies it; Stopping (after Quit) stops this loop."""
        try:
            if isinstance(command, admin.FILE_COMMANDS):
                return self.files.command(self.now(), command)
            result = admin.apply(self.hub, self.now(), command)
        except Exception as exc:          # a console mistake must never stop the room
            return admin.CommandFailed(repr(exc))
        if isinstance(result, admin.Stopping):
            self.stop_reason = "quit"
        if isinstance(command, admin.CHANGES_RULES):
            self._save_rules()
        return result

    def _save_rules(self) -> None:
        if self.store is not None:
            try:
                self.store.save_rules(self.hub.moderation.rows(), self.hub.motd)
            except StateError as exc:
                self._lose_store(exc)

    def _tell_console(self, message: object) -> None:
        """One message to the console. One over the channel's size limit (the
        list of a room of a thousand and more, say) is dropped, not sent: the
        room must not stop for it. With no console left, what it would have
        shown goes to our stdout."""
        if self.link.closed:
            if self.wording is not None:
                self._print("".join(line + "\n" for line in self.wording(message)))
            return
        try:
            self.link.send(message)
        except ValueError:
            self.console_oversized += 1

    def _send_state(self) -> None:
        """The console's online list and status line, once a second."""
        now = self.now()
        self.next_state = now + STATE_INTERVAL
        then, before = self.messages_seen
        messages = self.hub.stats["messages"]
        rate = (messages - before) / (now - then) if then else 0.0
        self.messages_seen = (now, messages)
        host, port = self.sock.getsockname()[:2]
        self._tell_console(ConsoleState(listen_text(host, port), int(now - self.hub.started),
                                    admin.member_rows(self.hub, now),
                                    self.hub.stats["malformed"], round(rate, 1)))

    def _pass_log(self, now_too: bool = False) -> None:
        """The hub's log: into the transcript at once, to the console at most
        every LOG_INTERVAL (the first entry after a quiet spell at once). Why:
        each message wakes the console process, and on a one-core server the
        woken console takes the CPU at once, from the middle of the next
        line's fan-out. Twenty times a second is as live as anyone reads."""
        self._commit()
        entries, self.log_new = self.log_new, []
        if self.transcript is not None:
            for entry in entries:
                if entry.what != LogKind.MALFORMED:
                    self.transcript.write(entry)
        self.log_backlog.extend(e for e in entries if e.what not in admin.NOT_FOR_CONSOLE)
        now = time.monotonic()
        if self.log_backlog and (now_too or now >= self.log_due):
            self._send_log(self.log_backlog)
            self.log_backlog = []
            self.log_due = now + LOG_INTERVAL

    def _send_log(self, entries: Sequence[LogEntry]) -> None:
        if not entries:
            return
        # A busy room logs thousands of chat lines a second: one message each
        # costs a JSON document and a syscall on both sides. Send them in
        # ConsoleLog batches of up to LOG_BATCH bytes; the console words them,
        # not this busy process.
        batch: List[LogRow] = []
        size = 0
        for entry in entries:
            batch.append(entry[:5])       # the console's LogRow; JSON writes it as a list
            size += len(entry.name) + len(entry.addr) + len(entry.detail) + LOG_ENTRY_OVERHEAD
            if size > LOG_BATCH:
                self._tell_console(ConsoleLog(tuple(batch)))
                batch, size = [], 0
        if batch:
            self._tell_console(ConsoleLog(tuple(batch)))

    @staticmethod
    def _print(text: str) -> None:
        """Out on our stdout, when no console is there to show it."""
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except (BrokenPipeError, OSError):
            pass

    def _terminal_hung_up(self) -> bool:
        """True if we began on a terminal and it is gone now (a hung-up tty
        answers every ioctl with EIO)."""
        if self.tty_modes is None:
            return False
        try:
            termios.tcgetattr(sys.stdin.fileno())
        except termios.error as exc:
            return exc.args[0] == errno.EIO
        except OSError as exc:
            return exc.errno == errno.EIO
        return False

    def _mend_terminal(self) -> None:
        """A console killed (SIGKILL) could not restore the terminal: raw mode, no echo,
        the alternate screen, bracketed paste. Put the modes back and leave the screen,
        so the headless log is readable and the shell works after the server."""
        if self.tty_modes is None:
            return
        import curses

        try:
            if termios.tcgetattr(sys.stdin.fileno()) == self.tty_modes:
                return                    # the console restored it itself
            termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, self.tty_modes)
            curses.setupterm(None, sys.stdout.fileno())
            leave = curses.tigetstr("rmcup") or b""
            os.write(sys.stdout.fileno(), b"\x1b[?2004l" + leave + b"\r\n")
        except (termios.error, OSError, curses.error):
            pass

    def _note(self, key: str, **values: object) -> None:
        """A line of the server's own (app.core.console_messages NOTE_*): a key
        and its values, for the console to word."""
        self._pass_log(now_too=True)      # the room's events before it
        self._tell_console(ConsoleNote(self.now(), key, Hint.of(key, **values).values))

    def _announce_start(self) -> None:
        host, port = self.sock.getsockname()[:2]
        rcvbuf = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        self._note(C.NOTE_LISTENING, host="" if host in ("::", "0.0.0.0") else host, port=port,
                   rcvbuf=rcvbuf)
        for key, values, memory in self.start_notes:
            self._note(C.NOTE_STATE, problem=key, memory=memory, **dict(values))
        if self.store is not None:
            self._note(C.NOTE_STATE_KEPT, path=self.store.path)
        self.hints = discovery.join_hints(host, port)   # under the start line, unstamped
        if self.secure is not None:
            self.hints.append(Hint.of("server_key",
                                      words=keys.fingerprint(self.secure.public_key)))
        if self.options.show_password and self.options.password:
            self.hints.append(Hint.of("room_password", password=self.options.password))
        self._show_hints()

    def _show_hints(self) -> None:
        self._tell_console(ConsoleHints(tuple(self.hints)))

    # ------------------------------------------------------------ exit

    def _reap_admin(self) -> None:
        """Collect the consoles that have ended (a replaced one may end after
        its successor began)."""
        self.console_pids = [pid for pid in self.console_pids if not _reaped(pid)]

    def _shut_down(self) -> None:
        """Tell the clients (BYE, repeated), tell the console, reap it, exit."""
        now = self.now()
        self.hub.shutdown(now)
        self._pass_log(now_too=True)
        self._send_output()
        deadline = time.monotonic() + 0.5
        while self.hub.farewells and time.monotonic() < deadline:
            time.sleep(0.05)
            self.front.tick(self.now())
            self._send_output()
        self._note(C.NOTE_STOPPING, why=self.stop_reason)
        self._tell_console(ConsoleBye())
        self.link.flush()
        self._stop_admin()
        close_sockets(self.sock, self.door)
        self.files.close()
        if self.store is not None:
            self.store.close()

    def _stop_admin(self) -> None:
        deadline = time.monotonic() + CHILD_GRACE
        while self.console_pids and time.monotonic() < deadline:
            self._reap_admin()
            if self.console_pids:
                time.sleep(0.02)
        for pid in self.console_pids:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        self.console_pids = []


def _reaped(pid: int) -> bool:
    """Collect child `pid` if it has ended: True once it is gone."""
    try:
        return os.waitpid(pid, os.WNOHANG)[0] != 0
    except ChildProcessError:
        return True

