"""Packaging checks of the built chat.pyz (issue 2): two builds are byte-identical, it runs
under every pyenv Python found (3.6/3.7 refused in one line), and its first run survives
hostile homes as a throwaway uid that has no passwd entry."""
import grp
import hashlib
import itertools
import os
import pathlib
import pwd
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
import time

import pytest

from app import __version__
from app._pyz_main import TMP_DIRS
from tests import pythons

ROOT = pathlib.Path(__file__).resolve().parent.parent
VERSION_LINE = "chat.pyz %s\n" % __version__
pytestmark = pytest.mark.timeout(120)


def unpacked(cache):
    """True if a chat.pyz (under any file name) was unpacked into the directory `cache`."""
    return any(pathlib.Path(cache).glob("*.pyz_*/site-packages/app/__init__.py"))


# --- reproducible build ---------------------------------------------------------------

def source_copy(src, dest, umask, mtime):
    """Copy src (app/ and build.sh) to dest as a checkout made under `umask` at `mtime`."""
    shutil.copytree(src, dest)
    for path in [dest, *dest.rglob("*")]:
        executable = path.is_dir() or path.name == "build.sh"
        path.chmod((0o777 if executable else 0o666) & ~umask)
        os.utime(path, (mtime, mtime))


def build(tree, umask):
    """Run tree/build.sh under `umask` with the repo's shiv; the sha256 of its chat.pyz."""
    shiv = ROOT / "build" / "venv-build" / "bin" / "shiv"
    env = dict(os.environ, SHIV=str(shiv)) if shiv.exists() else None
    result = subprocess.run(["./build.sh"], cwd=tree, env=env, capture_output=True, text=True,
                            preexec_fn=lambda: os.umask(umask), timeout=500)
    assert result.returncode == 0, result.stderr
    return hashlib.sha256((tree / "chat.pyz").read_bytes()).hexdigest()


@pytest.mark.timeout(600)
def test_two_builds_are_byte_identical(pyz, tmp_path):
    # One snapshot of the tree (others may be editing app/ meanwhile), copied twice.
    snapshot = tmp_path / "snapshot"
    shutil.copytree(ROOT / "app", snapshot / "app",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy2(ROOT / "build.sh", snapshot)
    digests = []
    for name, umask, mtime in (("a", 0o022, 1_600_000_000), ("b", 0o002, 1_750_000_000)):
        time.sleep(len(digests))  # the builds start in different seconds: no clock leaks in
        source_copy(snapshot, tmp_path / name, umask, mtime)
        digests.append(build(tmp_path / name, umask))
    assert digests[0] == digests[1]


# --- Python matrix --------------------------------------------------------------------

@pytest.mark.parametrize("minor", pythons.TOO_OLD + pythons.SUPPORTED)
def test_version_under_each_python(pyz, minor, tmp_path):
    python = pythons.find(minor)
    if python is None:
        pytest.skip("pyenv has no Python %s here (%s)" % (minor, pythons.VERSIONS_DIR))
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)  # a fresh SHIV_ROOT: this interpreter really unpacks
    result = subprocess.run([python, pyz, "--version"], env=dict(os.environ, SHIV_ROOT=str(cache)),
                            capture_output=True, text=True, timeout=60)
    if minor in pythons.TOO_OLD:
        found = subprocess.run([python, "-c", "import sys; print(sys.version.split()[0])"],
                               capture_output=True, text=True, timeout=30).stdout.strip()
        assert found.startswith(minor + ".")
        guard = "chat.pyz needs Python 3.8 or newer (found %s)\n" % found
        assert (result.returncode, result.stdout, result.stderr) == (1, "", guard)
    else:
        assert (result.returncode, result.stdout, result.stderr) == (0, VERSION_LINE, "")
        assert unpacked(cache)


# --- hostile first runs, as a uid with no passwd entry ----------------------------------

SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"  # python3 there is usable by any uid
PLANTS = ("someone else's", "world-writable", "symlink")  # what an attacker could leave


def fallback_dirs(uid):
    """The launcher's /tmp-like candidates for uid (after $HOME, $XDG_RUNTIME_DIR, $TMPDIR)."""
    return [pathlib.Path(tmp, "chat.pyz-%d" % uid) for tmp in TMP_DIRS]


def has_entry(lookup, number):
    try:
        lookup(number)
    except KeyError:
        return False
    return True


def free_uid():
    """A uid and gid with no passwd/group entry and nothing of theirs in the tmp dirs."""
    for uid in range(54321, 60000):
        if not (has_entry(pwd.getpwuid, uid) or has_entry(grp.getgrgid, uid)
                or any(os.path.lexists(path) for path in fallback_dirs(uid))):
            return uid
    pytest.skip("no free uid in 54321-59999")


def remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


class Stranger:
    """A uid with no passwd entry, and a scratch dir of root's (mode 755, so read-only to
    the stranger) holding ./chat.pyz (755), ./noexec.pyz (644), a read-only home of the
    stranger's own (`chmod 555 ~`) and a shared sticky tmp dir (1777)."""

    def __init__(self, uid, scratch, pyz):
        self.uid = uid
        self.scratch = scratch
        self.make("chat.pyz", 0o755, source=pyz)
        self.make("noexec.pyz", 0o644, source=pyz)
        self.home = self.make("home", 0o555, owner=uid)
        self.tmp = self.make("tmp", 0o1777)

    def make(self, name, mode, owner=0, source=None):
        """scratch/name: a copy of source, or a directory; with that owner and mode."""
        path = self.scratch / name
        if source:
            shutil.copyfile(source, path)
        else:
            path.mkdir()
        os.chown(path, owner, owner)
        path.chmod(mode)
        return path

    def plant(self, kind, path):
        """Leave a `kind` of directory at path as an attacker could; return the directory
        that must stay empty."""
        if kind == "symlink":
            target = pathlib.Path(tempfile.mkdtemp(dir=self.scratch))  # mode 700
            os.chown(target, self.uid, self.uid)
            os.symlink(target, path)
            return target
        path.mkdir()
        owner = self.uid if kind == "world-writable" else 0
        os.chown(path, owner, owner)
        path.chmod(0o777)
        return path

    def run(self, env, command="./chat.pyz --version"):
        """Run command as the stranger, in scratch."""
        return self._run(command.split(), env, user=self.uid, group=self.uid, extra_groups=[])

    def run_without_tmp(self, env):
        """`python3 chat.pyz --version` as the stranger in a private mount namespace where
        read-only tmpfs cover the TMP_DIRS, so tempfile finds no usable dir at all. They hide
        scratch too: python3 gets chat.pyz as a descriptor opened before the mounts."""
        mounts = "".join("mount -t tmpfs -o ro none %s && " % shlex.quote(tmp)
                         for tmp in TMP_DIRS if os.path.isdir(tmp))
        script = ("exec 3<chat.pyz && %s exec setpriv --reuid=%d --regid=%d --clear-groups "
                  "python3 /proc/self/fd/3 --version" % (mounts, self.uid, self.uid))
        return self._run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script], env)

    def _run(self, argv, env, **kw):
        return subprocess.run(argv, cwd=self.scratch, capture_output=True, text=True, timeout=20,
                              env={"PATH": SYSTEM_PATH, "LC_ALL": "C.UTF-8", **env}, **kw)


@pytest.fixture
def stranger(pyz):
    if os.geteuid() != 0:
        pytest.skip("needs root to run chat.pyz as a throwaway uid with no passwd entry")
    if not shutil.which("python3", path=SYSTEM_PATH):
        pytest.skip("no python3 in %s that another uid could run" % SYSTEM_PATH)
    uid = free_uid()
    scratch = pathlib.Path(tempfile.mkdtemp(prefix="chat-pyz-test-", dir="/tmp"))
    try:
        scratch.chmod(0o755)
        yield Stranger(uid, scratch, pyz)
    finally:
        for path in [scratch, *fallback_dirs(uid)]:
            remove(path)


def assert_version_runs(result):
    assert (result.returncode, result.stdout, result.stderr) == (0, VERSION_LINE, "")


def assert_says_set_shiv_root(result):
    lines = result.stderr.splitlines()
    assert (result.returncode, result.stdout, len(lines)) == (1, "", 1), result.stderr
    assert "SHIV_ROOT" in lines[0] and "Traceback" not in lines[0]


@pytest.mark.parametrize("home, command", [
    ("read-only", "./chat.pyz --version"),
    ("/nonexistent", "./chat.pyz --version"),
    ("/nonexistent", "python3 noexec.pyz --version"),
    ("unset", "./chat.pyz --version"),  # and the uid has no passwd entry to find one
])
def test_first_run_with_a_hostile_home_unpacks_privately(stranger, home, command):
    env = {"TMPDIR": str(stranger.tmp)}
    if home != "unset":
        env["HOME"] = str(stranger.home) if home == "read-only" else home
    assert_version_runs(stranger.run(env, command))
    cache = stranger.tmp / ("chat.pyz-%d" % stranger.uid)
    info = cache.lstat()
    assert stat.S_ISDIR(info.st_mode) and info.st_uid == stranger.uid
    assert stat.S_IMODE(info.st_mode) == 0o700
    assert unpacked(cache)


@pytest.mark.parametrize("kind", PLANTS)
def test_planted_tmp_dir_is_never_used(stranger, kind):
    first, second = fallback_dirs(stranger.uid)[:2]
    watched = stranger.plant(kind, first)
    assert_version_runs(stranger.run({"HOME": str(stranger.home)}))  # $TMPDIR unset: /tmp
    assert not any(watched.iterdir())
    assert second.stat().st_uid == stranger.uid and unpacked(second)


def can_unshare_mounts():
    if not (shutil.which("unshare") and shutil.which("setpriv")):
        return False
    probe = ["unshare", "--mount", "--propagation", "private", "true"]
    return subprocess.run(probe, capture_output=True, timeout=20).returncode == 0


@pytest.mark.parametrize("how", ["planted", "read-only mounts"])
def test_nowhere_writable_says_set_shiv_root(stranger, how):
    # Every candidate fails: the home is read-only, $XDG_RUNTIME_DIR unset, $TMPDIR
    # read-only, and either each <tmp>/chat.pyz-<uid> is planted (tempfile falls back to
    # /tmp) or the tmp dirs are read-only mounts (tempfile finds no usable dir at all).
    env = {"HOME": str(stranger.home), "TMPDIR": str(stranger.scratch)}
    watched = []
    if how == "planted":
        watched = [stranger.plant(kind, path)
                   for kind, path in zip(itertools.cycle(PLANTS), fallback_dirs(stranger.uid))
                   if path.parent.is_dir()]
        result = stranger.run(env)
    elif can_unshare_mounts():
        result = stranger.run_without_tmp(env)
    else:
        pytest.skip("unshare/setpriv missing or no right to make a mount namespace here")
    assert_says_set_shiv_root(result)
    assert not any(any(path.iterdir()) for path in watched)


@pytest.mark.parametrize("where", ["read-only", "shared"])
def test_unusable_shiv_root_says_so(stranger, where):
    root = stranger.scratch if where == "read-only" else stranger.tmp
    result = stranger.run({"HOME": str(stranger.home), "SHIV_ROOT": str(root)})
    assert_says_set_shiv_root(result)
    assert not unpacked(root)


def test_a_privileged_port_as_a_normal_user_is_one_clear_line(stranger):
    with open("/proc/sys/net/ipv4/ip_unprivileged_port_start") as f:
        if int(f.read()) <= 80:
            pytest.skip("this kernel lets any user bind port 80")
    result = stranger.run({"HOME": "/nonexistent"},
                          "./chat.pyz server --headless --port 80 --bind 127.0.0.1")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "没有权限在 127.0.0.1:80 上监听" in result.stderr


def test_later_runs_start_from_the_unpacked_copy_without_shivs_bootstrap(pyz, tmp_path):
    root = tmp_path / "root"
    root.mkdir(mode=0o700)
    env = dict(os.environ, SHIV_ROOT=str(root))

    def run(*extra):
        return subprocess.run([sys.executable, "-X", "importtime", pyz, "--version"],
                              capture_output=True, text=True, timeout=30,
                              env=dict(env, **dict(extra)))

    def imports(*extra):
        result = run(*extra)
        assert (result.returncode, result.stdout) == (0, VERSION_LINE)
        return result.stderr

    assert "_bootstrap" in imports()                 # first run: shiv unpacks
    assert "_bootstrap" not in imports()             # later runs: straight from the copy
    assert "_bootstrap" in imports(("SHIV_FORCE_EXTRACT", "1"))
    root.chmod(0o777)                                # a root others could write to:
    try:
        result = run()                               # neither path trusts it
        assert result.returncode == 1 and "not a private writable" in result.stderr
    finally:
        root.chmod(0o700)
