"""Processes for the benchmarks: the three servers, free ports, /proc readings.

Every server is started on 127.0.0.1 and a free high port, and stopped by its
own PID (and the PIDs of its own children). Nothing here reaches beyond this
machine.
"""
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional

ROOT = pathlib.Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
KINDS = ("ours", "naive", "irc")


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (at the time of asking)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                    tcp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


def listening(port: int, proto: str) -> bool:
    """True if something is bound to `port`: proto "udp" or "udp6" (any
    socket), "tcp" or "tcp6" (one in LISTEN)."""
    hex_port = ":%04X" % port
    with open("/proc/net/" + proto) as table:
        next(table)
        for line in table:
            fields = line.split()
            if fields[1].endswith(hex_port) and (proto.startswith("udp") or fields[3] == "0A"):
                return True
    return False


# ------------------------------------------------------------------ /proc

SERVER_CPUS = {0}


def pin_generator(pid: int) -> None:
    """A load-generator process on every CPU but the server's. Pinned, the
    server has a core of its own, as on a lab's server machine, where the
    clients' work runs on other machines; unpinned, every simulated client's
    work competes with the server for the same two cores, and a heavier client
    protocol slows the server it is measuring."""
    others = set(range(os.cpu_count() or 1)) - SERVER_CPUS
    if others:
        os.sched_setaffinity(pid, others)


def children(pid: int) -> List[int]:
    """`pid` and all its descendants (alive now)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in os.listdir("/proc/%d/task" % current):
                with open("/proc/%d/task/%s/children" % (current, task)) as f:
                    todo.extend(int(child) for child in f.read().split())
        except OSError:
            pass
    return found


def cpu_seconds(pid: int) -> float:
    """CPU time of one process's threads, in seconds (0.0 when it is gone): from
    /proc/PID/task/*/schedstat (nanoseconds) where the kernel keeps it, else
    utime + stime (10 ms ticks: 20 ticks in a capped 4 s run, too coarse)."""
    try:
        total = 0
        for task in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/schedstat" % (pid, task)) as f:
                total += int(f.read().split()[0])
        return total / 1e9
    except (OSError, ValueError, IndexError):
        pass
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def status(pid: int) -> Dict[str, int]:
    """Numeric fields of /proc/PID/status (kB for memory lines)."""
    result = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                key, _, value = line.partition(":")
                parts = value.split()
                if parts and parts[0].isdigit():
                    result[key] = int(parts[0])
    except OSError:
        pass
    return result


def tree_usage(pid: int) -> Dict[str, float]:
    """CPU seconds, peak RSS (MiB) and voluntary context switches summed over
    a process and its children (our server forks its admin side)."""
    pids = children(pid)
    stats = [status(p) for p in pids]
    return {"cpu": sum(cpu_seconds(p) for p in pids),
            "hwm_mib": sum(s.get("VmHWM", 0) for s in stats) / 1024.0,
            "main_hwm_mib": stats[0].get("VmHWM", 0) / 1024.0 if stats else 0.0,
            "wakeups": sum(s.get("voluntary_ctxt_switches", 0) for s in stats)}


def stop_pids(pids: List[int], grace: float = 3.0) -> None:
    """SIGTERM each PID, then SIGKILL whatever is left after `grace` seconds."""
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for pid in pids:
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        if _alive(pid):
            _signal(pid, signal.SIGKILL)


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _alive(pid: int) -> bool:
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def udp_rcvbuf_errors() -> int:
    """Datagrams the kernel dropped machine-wide because a socket's receive
    buffer was full (/proc/net/snmp, Udp RcvbufErrors)."""
    with open("/proc/net/snmp") as f:
        rows = [line.split() for line in f if line.startswith("Udp:")]
    return int(rows[1][rows[0].index("RcvbufErrors")])


def udp_socket_drops(port: int) -> int:
    """Datagrams dropped at the IPv4 UDP socket bound to `port` on this
    machine (the last column of /proc/net/udp): one server's own losses,
    where udp_rcvbuf_errors() counts every socket's."""
    hex_port = ":%04X" % port
    with open("/proc/net/udp") as table:
        next(table)
        return sum(int(line.split()[-1]) for line in table
                   if line.split()[1].endswith(hex_port))


# ------------------------------------------------------------------ servers

NGIRCD_CONF = """\
[Global]
Name = bench.irc
Info = chat.pyz benchmark
Listen = 127.0.0.1
Ports = {port}
MotdPhrase = bench
PidFile = {dir}/ngircd.pid
[Limits]
# The flood protection, relaxed: no penalty time at all (MaxPenaltyTime = 0),
# any number of connections from 127.0.0.1, and no PING traffic during a run.
MaxConnections = 0
MaxConnectionsIP = 0
MaxJoins = 0
MaxPenaltyTime = 0
MaxNickLength = 16
PingTimeout = 3600
PongTimeout = 3600
[Options]
DNS = no
Ident = no
PAM = no
"""


def ngircd_path() -> Optional[str]:
    return shutil.which("ngircd") or (
        "/usr/sbin/ngircd" if os.path.exists("/usr/sbin/ngircd") else None)


def app_is_secure(app_root=ROOT) -> bool:
    """The checkout at app_root has secure sessions (issue 16 on): its server
    speaks protocol version 2 unless told --insecure. An older app has
    neither the secure layer nor the flag."""
    return (pathlib.Path(app_root) / "app" / "core" / "secure_server.py").exists()


def private_dirs(tmp: str) -> Dict[str, str]:
    """Environment that keeps a run's keys and known_servers in `tmp`: the
    user's own ~/.config and ~/.local/state are never read or written."""
    env = {"XDG_CONFIG_HOME": os.path.join(tmp, "config"),
           "XDG_STATE_HOME": os.path.join(tmp, "state")}
    for path in env.values():
        os.makedirs(path, mode=0o700, exist_ok=True)
    return env


class Server:
    """One server of kind "ours", "naive" or "irc" on 127.0.0.1:port. Ours is
    secure (protocol version 2, the product's default) unless `insecure`
    (--insecure: version 1 in clear); an app from before issue 16 is always
    version 1 and gets no flag (`secure` says what it speaks)."""

    def __init__(self, kind: str, port: Optional[int] = None,
                 app_root: pathlib.Path = ROOT, relaxed: bool = False,
                 cpu_cap: float = 0.0, insecure: bool = False, home: str = "") -> None:
        self.kind = kind
        self.secure = kind == "ours" and not insecure and app_is_secure(app_root)
        self.insecure_flag = kind == "ours" and insecure and app_is_secure(app_root)
        self.relaxed = relaxed          # ours: per-person rate limit off (relaxed_server.py)
        self.cpu_cap = cpu_cap          # > 0: at most this share of one core (cgroup v1)
        self.cgroup = ""
        self.port = port or free_port()
        self.app_root = pathlib.Path(app_root)
        self.proc: Optional[subprocess.Popen] = None
        self.tmp = tempfile.mkdtemp(prefix="bench-%s-" % kind)
        # Where its key lives ($XDG_STATE_HOME): a server restarted with the
        # same `home` keeps its key, as the product's does in its state dir.
        self.home = home or self.tmp
        self.all_pids: List[int] = []

    def command(self) -> List[str]:
        if self.kind == "ours":
            start = ([str(ROOT / "bench" / "relaxed_server.py")] if self.relaxed
                     else ["-m", "app"])
            return [sys.executable] + start + ["server", "--headless",
                                               "--port", str(self.port), "--bind", "127.0.0.1"
                                               ] + (["--insecure"] if self.insecure_flag else [])
        if self.kind == "naive":
            return [sys.executable, str(ROOT / "bench" / "naive_server.py"),
                    "--port", str(self.port)]
        conf = os.path.join(self.tmp, "ngircd.conf")
        with open(conf, "w") as f:
            f.write(NGIRCD_CONF.format(port=self.port, dir=self.tmp))
        binary = ngircd_path()
        if binary is None:
            raise RuntimeError("ngircd is not installed")
        return [binary, "--nodaemon", "--config", conf]

    def start(self, timeout: float = 10.0) -> "Server":
        # Our server keeps its room's database in the XDG state dir: this
        # server's own temporary one, not the user's (nor an earlier run's).
        self.proc = subprocess.Popen(
            self.command(), cwd=str(self.app_root), stdin=subprocess.DEVNULL,
            env=dict(os.environ, **private_dirs(self.home)),
            stdout=open(os.path.join(self.tmp, "stdout"), "w"),
            stderr=open(os.path.join(self.tmp, "stderr"), "w"))
        proto = "tcp" if self.kind == "irc" else "udp"
        deadline = time.monotonic() + timeout
        while not listening(self.port, proto):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("%s server did not start: %s" % (self.kind, self.stderr()))
            time.sleep(0.01)
        self._note_pids()
        return self

    def settle(self, idle_share: float = 0.2, limit: float = 60.0) -> None:
        """Wait (at most `limit` s) until the server uses less than `idle_share`
        of a core, e.g. until it has passed a join storm's events on."""
        deadline = time.monotonic() + limit
        before = self.usage()["cpu"]
        while time.monotonic() < deadline:
            time.sleep(0.5)
            now = self.usage()["cpu"]
            if now - before < 0.5 * idle_share:
                return
            before = now

    def cap_cpu(self) -> None:
        """Put the server's processes in a cgroup of their own whose CFS quota is
        cpu_cap of one core: the server saturates at a load the Python load
        generator can still offer (and check) on this small machine."""
        self.cgroup = "/sys/fs/cgroup/cpu/bench-%d" % self.proc.pid
        os.mkdir(self.cgroup)
        with open(self.cgroup + "/cpu.cfs_period_us", "w") as f:
            f.write("100000")
        with open(self.cgroup + "/cpu.cfs_quota_us", "w") as f:
            f.write(str(int(100000 * self.cpu_cap)))
        for pid in children(self.proc.pid):
            try:
                with open(self.cgroup + "/cgroup.procs", "w") as f:
                    f.write(str(pid))
            except ProcessLookupError:
                pass                           # a short-lived child, gone already

    def _uncap(self) -> None:
        if self.cgroup:
            for _ in range(100):
                try:
                    os.rmdir(self.cgroup)
                    break
                except OSError:
                    time.sleep(0.05)           # its processes are still exiting
            self.cgroup = ""

    def _note_pids(self) -> None:
        for pid in children(self.proc.pid):
            if pid not in self.all_pids:
                self.all_pids.append(pid)

    def stderr(self) -> str:
        try:
            with open(os.path.join(self.tmp, "stderr")) as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    @property
    def pid(self) -> int:
        return self.proc.pid

    def pin(self) -> None:
        """Keep the server (and its console) on CPU 0 (see pin_generator)."""
        self._note_pids()
        for pid in self.all_pids:
            try:
                os.sched_setaffinity(pid, SERVER_CPUS)
            except OSError:
                pass                             # gone already

    def usage(self) -> Dict[str, float]:
        self._note_pids()
        return tree_usage(self.proc.pid)

    def crash(self) -> None:
        """SIGKILL the server (its forked admin side sees the link close and exits)."""
        self._note_pids()
        _signal(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        stop_pids(self.all_pids, grace=1.0)
        self._uncap()
        self._clean()

    def stop(self) -> None:
        if self.proc is None:
            return
        self._note_pids()
        stop_pids(self.all_pids)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self._uncap()
        self._clean()

    def _clean(self) -> None:
        if not os.environ.get("BENCH_KEEP"):          # BENCH_KEEP=1 keeps the logs
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
