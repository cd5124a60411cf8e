"""Terminal harness: run a program in a real pty (or in tmux) and look at its screen.

PtyTerminal feeds everything the program writes into a pyte screen (a pure-Python
VT emulator) from a reader thread, so a test can take whole-screen snapshots with
the cursor at any moment, type keys, resize, and hang up. TmuxTerminal offers the
same methods over a private tmux server (`tmux -L <socket> -f /dev/null`), a real
terminal with real resizes, where tmux is installed.

Waiting is always "until this condition holds, or fail at a deadline"; a failure
message shows the whole screen.
"""
import fcntl
import os
import select
import shutil
import signal
import struct
import subprocess
import termios
import threading
import time
import uuid

import pyte

KEYS = {
    "enter": "\r", "tab": "\t", "backspace": "\x7f", "esc": "\x1b",
    "left": "\x1b[D", "right": "\x1b[C", "up": "\x1b[A", "down": "\x1b[B",
    "home": "\x1b[H", "end": "\x1b[F", "delete": "\x1b[3~",
    "pgup": "\x1b[5~", "pgdn": "\x1b[6~",
}
for _letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
    KEYS["^" + _letter] = chr(ord(_letter) - 64)

PASTE_START, PASTE_END = "\x1b[200~", "\x1b[201~"


def key_bytes(*keys) -> bytes:
    """Key names from KEYS, or literal text, as the bytes a terminal would send."""
    return "".join(KEYS.get(k, k) for k in keys).encode("utf-8")


class _Screen(pyte.Screen):
    """pyte plus the few xterm sequences ncurses uses that pyte 0.8 lacks:
    REP (CSI n b), SU (CSI n S) and SD (CSI n T)."""

    last_char = " "

    def draw(self, data):
        super().draw(data)
        if data:
            self.last_char = data[-1]

    def repeat_last(self, count=1, **kw):
        self.draw(self.last_char * max(1, count))

    def _scroll(self, count, step, edge):
        top, bottom = self.margins or pyte.screens.Margins(0, self.lines - 1)
        saved = (self.cursor.x, self.cursor.y)
        for _ in range(max(1, count)):
            self.cursor.y = edge(top, bottom)
            step()
        self.cursor.x, self.cursor.y = saved

    def scroll_up(self, count=1, **kw):
        self._scroll(count, self.index, lambda top, bottom: bottom)

    def scroll_down(self, count=1, **kw):
        self._scroll(count, self.reverse_index, lambda top, bottom: top)


class _Stream(pyte.ByteStream):
    csi = dict(pyte.ByteStream.csi, b="repeat_last", S="scroll_up", T="scroll_down")


class _Waiting:
    """wait_for / snapshot shared by both terminals (they provide display() and cursor())."""

    def snapshot(self):
        """(the screen's lines, (cursor x, cursor y)), read together."""
        with self._lock():
            return list(self.display()), self.cursor()

    def text(self) -> str:
        return "\n".join(self.snapshot()[0])

    def wait_for(self, condition, timeout=10.0, what="condition"):
        """Poll until condition(lines, cursor) is true; return that snapshot."""
        deadline = time.monotonic() + timeout
        while True:
            lines, cursor = self.snapshot()
            if condition(lines, cursor):
                return lines, cursor
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for %s; screen (cursor %s):\n%s"
                                     % (what, cursor, "\n".join("|%s|" % l for l in lines)))
            time.sleep(0.01)

    def wait_text(self, needle, timeout=10.0):
        return self.wait_for(lambda lines, _: any(needle in l for l in lines), timeout,
                             repr(needle))

    def wait_screen(self, expected_lines, expected_cursor=None, timeout=10.0,
                    normalise=lambda line: line):
        """Wait until the whole screen (lines right-stripped) and the cursor are exact;
        `normalise` is applied to each screen line first (e.g. to mask a clock)."""
        want = [l.rstrip() for l in expected_lines]
        want += [""] * (len(self.snapshot()[0]) - len(want))

        def same(lines, cursor):
            return [normalise(l).rstrip() for l in lines] == want and \
                (expected_cursor is None or tuple(cursor) == tuple(expected_cursor))

        try:
            return self.wait_for(same, timeout, "exact screen")
        except AssertionError as exc:
            raise AssertionError("%s\nexpected (cursor %s):\n%s" % (
                exc, expected_cursor, "\n".join("|%s|" % l for l in want)))

    def type(self, *keys, pause=0.0):
        for key in keys:
            self.send(key_bytes(key))
            if pause:
                time.sleep(pause)

    def paste(self, text):
        self.send((PASTE_START + text + PASTE_END).encode("utf-8"))


class PtyTerminal(_Waiting):
    """A program in a new session whose controlling terminal is a pty of lines x cols."""

    def __init__(self, argv, lines=24, cols=80, env=None, cwd=None):
        self.lines, self.cols = lines, cols
        self.master, self.slave = os.openpty()
        self._set_size(lines, cols)
        self.screen = _Screen(cols, lines)
        self.stream = _Stream(self.screen)
        self._screen_lock = threading.Lock()
        full_env = dict(os.environ, TERM="xterm-256color", LANG="C.UTF-8", LC_ALL="C.UTF-8")
        full_env.update(env or {})
        slave = self.slave

        def become_session_leader():
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=full_env,
                                     cwd=cwd, preexec_fn=become_session_leader, close_fds=True)
        self.raw = bytearray()
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _lock(self):
        return self._screen_lock

    def _set_size(self, lines, cols):
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", lines, cols, 0, 0))

    def _read(self):
        # select with a short time-out: a read blocked in this thread would keep the
        # master open after hang_up() closed it, and the program would get no SIGHUP.
        while not self._stop.is_set():
            if not select.select([self.master], [], [], 0.02)[0]:
                continue
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            with self._screen_lock:
                self.raw.extend(data)
                self.stream.feed(data)

    def display(self):
        return self.screen.display

    def cursor(self):
        return (self.screen.cursor.x, self.screen.cursor.y)

    def send(self, data: bytes):
        os.write(self.master, data)

    def resize(self, lines, cols):
        with self._screen_lock:
            self.screen.resize(lines, cols)
            self._set_size(lines, cols)   # the kernel sends SIGWINCH to the program
        self.lines, self.cols = lines, cols

    def tty_modes(self):
        """The pty's local modes now (e.g. to check ICANON and ECHO after exit)."""
        return termios.tcgetattr(self.slave)[3]

    def _stop_reader(self):
        self._stop.set()
        self._reader.join(2)

    def hang_up(self):
        """Close the terminal, as when its window is closed: the program gets SIGHUP."""
        self._stop_reader()
        os.close(self.master)
        self.master = -1

    def wait_exit(self, timeout=5.0):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def close(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
            self.proc.wait(5)
        self._stop_reader()
        for fd in (self.master, self.slave):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.master = self.slave = -1

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def children_of(pid):
    """Pids whose parent is `pid` (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def process_state(pid):
    """The /proc state letter (R, S, Z...) or None when the process is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def process_report(pid):
    """One line on a process for a failure message: its state, parent, what it
    waits in (wchan) and its signal masks (pending, blocked, ignored, caught)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open("/proc/%d/wchan" % pid) as f:
            wchan = f.read()
        with open("/proc/%d/status" % pid) as f:
            masks = [l.split()[1] for l in f if l.startswith(("SigPnd", "ShdPnd", "SigBlk",
                                                                "SigIgn", "SigCgt"))]
    except OSError:
        return "%d: gone" % pid
    return "%d: state %s ppid %s wchan %s pnd/shd/blk/ign/cgt %s children %s" % (
        pid, fields[0], fields[1], wchan or "-", "/".join(masks), children_of(pid))


def cpu_seconds(pid):
    """User + system CPU time the process has used, from /proc/<pid>/stat."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- tmux

TMUX = shutil.which("tmux")


class TmuxTerminal(_Waiting):
    """The same interface on a private tmux server: a real terminal emulator."""

    def __init__(self, argv, lines=24, cols=80, env=None):
        self.socket = "chat-test-%s" % uuid.uuid4().hex[:8]
        self.lines, self.cols = lines, cols
        full_env = dict(os.environ, LANG="C.UTF-8", LC_ALL="C.UTF-8")
        full_env.pop("TMUX", None)
        full_env.update(env or {})
        exports = " ".join("%s=%s" % (k, _quote(v)) for k, v in (env or {}).items())
        command = "env LANG=C.UTF-8 LC_ALL=C.UTF-8 %s %s" % (
            exports, " ".join(_quote(a) for a in argv))
        self._tmux("-f", "/dev/null", "new-session", "-d", "-x", str(cols), "-y", str(lines),
                   command, env=full_env)
        self._tmux("set-option", "-g", "remain-on-exit", "on")
        self._snapshot_lock = threading.Lock()

    def _tmux(self, *args, env=None):
        return subprocess.run([TMUX, "-L", self.socket] + list(args), capture_output=True,
                              text=True, env=env, timeout=10).stdout

    def _lock(self):
        return self._snapshot_lock

    def display(self):
        out = self._tmux("capture-pane", "-p", "-N").split("\n")[:self.lines]
        return out + [""] * (self.lines - len(out))

    def cursor(self):
        x, y = self._tmux("display", "-p", "#{cursor_x} #{cursor_y}").split()
        return (int(x), int(y))

    def send(self, data: bytes):
        hexes = ["%02x" % b for b in data]
        for i in range(0, len(hexes), 200):
            self._tmux("send-keys", "-H", *hexes[i:i + 200])

    def resize(self, lines, cols):
        self._tmux("resize-window", "-x", str(cols), "-y", str(lines))
        self.lines, self.cols = lines, cols

    def pid(self):
        return int(self._tmux("display", "-p", "#{pane_pid}").strip())

    def exited(self):
        return self._tmux("display", "-p", "#{pane_dead}").strip() == "1"

    def close(self):
        self._tmux("kill-server")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _quote(text):
    return "'" + str(text).replace("'", "'\\''") + "'"
