"""Hostile file names stay inside the downloads folder (app/core/file_names.py),
and a received file appears under its final name only whole and checked
(app/net/files.py Landing), never over an existing file."""
import hashlib
import os
import sys

import pytest

from app.core import file_names as fn
from app.core import file_wire as fw
from app.net.files import Landing, route_chunk


@pytest.mark.parametrize("raw, safe", [
    ("讲义.pdf", "讲义.pdf"),
    ("../../.bashrc", "bashrc"),
    ("/etc/passwd", "passwd"),
    ("..\\..\\win.ini", "win.ini"),
    ("..", "file"),
    ("", "file"),
    ("a\x1b[2Jb.txt", "a[2Jb.txt"),
    ("evil\u202egpj.exe", "evilgpj.exe"),
    ("CON", "_CON"),
    ("con.txt", "_con.txt"),
    ("LPT1.tar.gz", "_LPT1.tar.gz"),
    ("notes. ", "notes"),
    ("x.part", "x.part_"),
    ("a\nb\tc.txt", "a b c.txt"),
])
def test_safe_names(raw, safe):
    assert fn.safe_name(raw) == safe


def test_long_names_keep_their_extension_within_255_bytes():
    name = fn.safe_name("讲" * 200 + ".pdf")
    assert name.endswith(".pdf") and len(name.encode()) <= 255
    assert fn.numbered("讲义.pdf", 2) == "讲义 (2).pdf"
    assert fn.numbered(".bashrc", 1) == ".bashrc (1)"


def test_human_size():
    assert [fn.human_size(n) for n in (0, 999, 1000, 1_234_567, 5_000_000, 123_000_000)] == \
        ["0 B", "999 B", "1.0 KB", "1.2 MB", "5.0 MB", "123 MB"]


def offer(data, name="a.txt"):
    return fw.Offer(len(data), fw.CHUNK_SIZE, hashlib.sha256(data).digest(), 0, 0.0, name)


def test_landing_never_overwrites_and_leaves_no_partial(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"mine")
    land = Landing(str(tmp_path))
    data = b"x" * 3000
    assert land.start((0, 1), offer(data)) is None
    assert sorted(os.listdir(tmp_path)) == ["a.txt", "a.txt.part"]
    land.write((0, 1), 0, data)
    landed = land.complete((0, 1))
    assert (landed.status, landed.name) == (fw.DoneStatus.STORED, "a (1).txt")
    assert sorted(os.listdir(tmp_path)) == ["a (1).txt", "a.txt"]
    assert (tmp_path / "a.txt").read_bytes() == b"mine"


def test_landing_drops_a_mismatch_and_a_cancel(tmp_path):
    land = Landing(str(tmp_path))
    assert land.start((0, 1), offer(b"right")) is None
    land.write((0, 1), 0, b"wrong")
    assert land.complete((0, 1)).status == fw.DoneStatus.MISMATCH
    assert land.start((0, 2), offer(b"abc", "../../x")) is None
    assert os.listdir(tmp_path) == ["x.part"]
    land.cancel((0, 2))
    assert os.listdir(tmp_path) == []


def test_landing_in_an_unwritable_folder_refuses(tmp_path):
    """A folder that cannot be made (a regular file where a parent should be:
    refused for root too, whom no mode stops) and, when not root, a folder of
    mode 500: one clear refusal each, nothing left behind."""
    blocker = tmp_path / "blocker"
    blocker.write_bytes(b"a file, not a folder")
    refusal = Landing(str(blocker / "downloads")).start((0, 1), offer(b"abc"))
    assert refusal is not None and refusal[0] == fw.RefuseCode.UNWRITABLE
    assert sorted(os.listdir(tmp_path)) == ["blocker"]
    if os.geteuid() == 0:
        return                                   # root writes into a mode-500 folder
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        refusal = Landing(str(folder)).start((0, 1), offer(b"abc"))
        assert refusal is not None and refusal[0] == fw.RefuseCode.UNWRITABLE
        assert os.listdir(folder) == []
    finally:
        folder.chmod(0o700)


@pytest.mark.parametrize("order", ["in order", "reversed", "shuffled"])
def test_landing_hashes_as_it_writes_in_any_order(tmp_path, order):
    """The in-order prefix is hashed as it is written; whatever came out of
    order is read back: the verdict is the same for every arrival order."""
    import random
    data = os.urandom(50_000)
    pieces = [(i, data[i:i + 1000]) for i in range(0, len(data), 1000)]
    if order == "reversed":
        pieces.reverse()
    elif order == "shuffled":
        random.Random(3).shuffle(pieces)
    land = Landing(str(tmp_path))
    assert land.start((0, 1), offer(data)) is None
    for at, piece in pieces:
        assert land.write((0, 1), at, memoryview(piece))
    landed = land.complete((0, 1))
    assert landed.status == fw.DoneStatus.STORED
    assert (tmp_path / landed.name).read_bytes() == data


def test_route_chunk_from_the_mtu_and_odd_addresses():
    assert route_chunk(("127.0.0.1", 9)) == (fw.MAX_CHUNK if sys.platform.startswith("linux")
                                            else fw.CHUNK_SIZE)
    # A dual-stack server's addresses carry flow and scope (any values): never an error.
    assert route_chunk(("::ffff:127.0.0.1", 9, 99999999999, 0)) >= fw.CHUNK_SIZE
    assert route_chunk(("no such host", 9)) == fw.CHUNK_SIZE
    assert route_chunk(()) == fw.CHUNK_SIZE
