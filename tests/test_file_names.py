"""Hostile file names stay inside the downloads folder (app/core/file_names.py),
and a received file appears under its final name only whole and checked
(app/net/files.py Landing), never over an existing file."""
import hashlib
import os

import pytest

from app.core import file_names as fn
from app.core import file_wire as fw
from app.net.files import Landing


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


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a mode-500 folder")
def test_landing_in_an_unwritable_folder_refuses(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        refusal = Landing(str(folder)).start((0, 1), offer(b"abc"))
        assert refusal is not None and refusal[0] == fw.RefuseCode.UNWRITABLE
    finally:
        folder.chmod(0o700)
