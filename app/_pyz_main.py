# -*- coding: utf-8 -*-
"""The __main__ of the built chat.pyz (build.sh puts this file there).

It runs before shiv's bootstrap, so it must be parseable by any python3 (and
python2): no f-strings, no annotations. It does the two things shiv does not:
  * refuses a too-old interpreter with one line instead of a traceback;
  * picks a private, writable directory to unpack into when the home directory
    is read-only, missing or unknown (shiv would die with a traceback there).
"""
import errno
import os
import stat
import sys

MIN_PYTHON = (3, 8)
CACHE_NAME = ".shiv"
# build.sh writes shiv's build id here: where a previous run unpacked this very
# build (ROOT/NAME_BUILDID/site-packages), so later runs start straight from it,
# without shiv's bootstrap and its imports (zipfile, pathlib, json, ...: about
# a third of the start-up). shiv itself only checks that this directory exists.
BUILD_ID = "@BUILD_ID@"
ENTRY_MODULE = "app.cli"
TMP_DIRS = ("/tmp", "/var/tmp", "/dev/shm")  # fallbacks after $TMPDIR: <dir>/chat.pyz-<uid>


def _fail(message):
    sys.stderr.write("chat.pyz: %s\n" % message)
    sys.exit(1)


def _private_dir_ok(path):
    """True if path is (or can be made) a directory only this user can write."""
    try:
        os.makedirs(path, 0o700)
    except OSError as exc:
        if exc.errno != errno.EEXIST:
            return False
    try:
        info = os.lstat(path)
    except OSError:
        return False
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        return False  # a symlink or someone else's directory: never unpack there
    if info.st_mode & 0o022:
        return False  # group/world-writable: another user could plant code
    probe = os.path.join(path, ".write-probe-%d" % os.getpid())
    try:
        fd = os.open(probe, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)
        os.close(fd)
        os.unlink(probe)
    except OSError:
        return False
    return _locks_work(path)


def _locks_work(path):
    """shiv serialises extraction with flock and retries forever if flock fails
    (NFS without a lock daemon): test it once, without blocking."""
    try:
        import fcntl
    except ImportError:
        return True
    probe = os.path.join(path, ".lock-probe-%d" % os.getpid())
    try:
        fd = os.open(probe, os.O_CREAT | os.O_RDWR, 0o600)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    except (IOError, OSError):
        return False
    finally:
        os.close(fd)
        try:
            os.unlink(probe)
        except OSError:
            pass


def _home_cache():
    home = os.environ.get("HOME")
    if not home:
        try:
            import pwd

            home = pwd.getpwuid(os.getuid()).pw_dir
        except (ImportError, KeyError):
            return None
    return os.path.join(home, CACHE_NAME)


def candidate_roots():
    """Where to unpack, best first. Each must pass _private_dir_ok."""
    uid = os.getuid()
    home_cache = _home_cache()
    if home_cache:
        yield home_cache
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        yield os.path.join(runtime, "chat.pyz")
    import tempfile  # here, not at the top: the fast path avoids it

    try:
        tmps = (tempfile.gettempdir(),) + TMP_DIRS
    except (IOError, OSError):  # no usable temp dir at all: gettempdir raises
        tmps = TMP_DIRS
    for tmp in tmps:
        yield os.path.join(tmp, "chat.pyz-%d" % uid)


def choose_root():
    for root in candidate_roots():
        if _private_dir_ok(root):
            return root
    return None


def _ours(path):
    """A directory of this user's that nobody else can write to (not a link)."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return (stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid()
            and not info.st_mode & 0o022)


def _unpacked_roots():
    """The roots candidate_roots() offers, without importing tempfile."""
    if os.environ.get("SHIV_ROOT"):
        return [os.path.expanduser(os.environ["SHIV_ROOT"])]
    roots = [_home_cache()]
    if os.environ.get("XDG_RUNTIME_DIR"):
        roots.append(os.path.join(os.environ["XDG_RUNTIME_DIR"], "chat.pyz"))
    tmps = ((os.environ["TMPDIR"],) if os.environ.get("TMPDIR") else ()) + TMP_DIRS
    return roots + [os.path.join(tmp, "chat.pyz-%d" % os.getuid()) for tmp in tmps]


def _start_unpacked():
    """Run from this build's unpacked copy if an earlier run left one in a root
    of ours; never from a directory someone else could have planted."""
    if BUILD_ID.startswith("@"):
        return                     # not a built pyz (the placeholder is still here)
    name = os.path.basename(os.path.realpath(sys.argv[0]))
    for root in _unpacked_roots():
        if not root or not _ours(root):
            continue
        site_packages = os.path.join(root, "%s_%s" % (name, BUILD_ID), "site-packages")
        if _ours(os.path.dirname(site_packages)) and os.path.isdir(
                os.path.join(site_packages, "app")):
            sys.path.insert(0, site_packages)
            module = __import__(ENTRY_MODULE, fromlist=["main"])
            sys.exit(module.main())


def main():
    if sys.version_info < MIN_PYTHON:
        sys.stderr.write(
            "chat.pyz needs Python %d.%d or newer (found %s)\n"
            % (MIN_PYTHON[0], MIN_PYTHON[1], sys.version.split()[0])
        )
        sys.exit(1)
    if not os.environ.get("SHIV_FORCE_EXTRACT"):
        _start_unpacked()          # returns only when this build is not unpacked yet
    chosen = os.environ.get("SHIV_ROOT")
    if chosen:
        if not _private_dir_ok(os.path.expanduser(chosen)):
            _fail(
                "SHIV_ROOT=%s is not a private writable directory of yours; "
                "point it at one (mode 700), or unset it" % chosen
            )
    else:
        root = choose_root()
        if root is None:
            _fail(
                "no private writable directory to unpack into (home and /tmp "
                "are not usable); set SHIV_ROOT to one, e.g. "
                "SHIV_ROOT=$PWD/.chat-cache ./chat.pyz"
            )
        os.environ["SHIV_ROOT"] = root
    import _bootstrap  # type: ignore[import-not-found]  # shiv's, beside us in the zip

    _bootstrap.bootstrap()


if __name__ == "__main__":
    main()
