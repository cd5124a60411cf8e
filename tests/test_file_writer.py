"""Received chunks are written and hashed by a thread of their own
(app/net/files.py _Writer): a disk that stalls (the kernel throttling a
writer whose dirty pages the disk has not caught up with) holds the writer,
never the loop that receives, acks and shows chat. A stalling disk cannot be
made on demand here, so os.pwrite is wrapped to wait on an event: the only
stand-in in these tests; every byte still goes to a real file."""
import errno
import hashlib
import os
import threading

from app.core import file_wire as fw
from app.net import files
from app.net.files import Landing

CHUNK = 65440


def offer(data, name="big.bin"):
    return fw.Offer(len(data), CHUNK, hashlib.sha256(data).digest(), 0, 0.0, name)


def test_a_stalled_disk_holds_the_writer_not_the_loop(tmp_path, monkeypatch):
    real_pwrite, stalled, entered = os.pwrite, threading.Event(), threading.Event()

    def stalling_pwrite(fd, data, offset):
        entered.set()
        assert stalled.wait(30), "the test never let the disk go"
        return real_pwrite(fd, data, offset)

    monkeypatch.setattr(files.os, "pwrite", stalling_pwrite)
    data = os.urandom(64 * CHUNK)                 # 4 MB: four batches, within the backlog
    land = Landing(str(tmp_path))
    key = (0, 1)
    assert land.start(key, offer(data)) is None
    for at in range(0, len(data), CHUNK):
        assert land.write(key, at, data[at:at + CHUNK])
    land.hand_over()
    assert entered.wait(10), "the writer thread never began"
    # The loop took every chunk while the writer sat in its first pwrite, and
    # no record may claim any of it yet.
    assert land.written(key) == 0 and not stalled.is_set()
    stalled.set()
    landed = land.complete(key)
    assert landed.status == fw.DoneStatus.STORED
    assert (tmp_path / landed.name).read_bytes() == data
    assert land.written(key) == 0                 # (completed: no longer a partial)


def test_a_write_that_fails_in_the_writer_ends_the_file_with_its_reason(tmp_path, monkeypatch):
    def full_disk(fd, data, offset):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "pwrite", full_disk)
    data = os.urandom(40 * CHUNK)
    land = Landing(str(tmp_path))
    key = (0, 2)
    assert land.start(key, offer(data)) is None
    accepted = [land.write(key, at, data[at:at + CHUNK]) for at in range(0, len(data), CHUNK)]
    # The first batch fails in the writer; the loop learns it at a later
    # write (False: the owner lands the file) or, at the latest, at complete.
    assert accepted[0]
    landed = land.complete(key)
    assert (landed.status, landed.why) == (fw.DoneStatus.WRITE_FAILED, "ENOSPC")
    assert os.listdir(tmp_path) == []             # nothing half-written left behind


def test_a_record_claims_what_is_written_once_settled(tmp_path):
    data = os.urandom(20 * CHUNK + 123)
    land = Landing(str(tmp_path))
    key = (0, 3)
    assert land.start(key, offer(data)) is None
    for at in range(0, 10 * CHUNK, CHUNK):        # the first half, in order
        land.write(key, at, data[at:at + CHUNK])
    land.settle()
    assert land.written(key) == 10 * CHUNK
    path, _ = land.part_of(key)
    with open(path, "rb") as f:
        assert f.read(10 * CHUNK) == data[:10 * CHUNK]
    land.detach()                                  # kept for a resume, whole as claimed
    assert os.path.getsize(path) == len(data)      # (allocated at start)


def test_a_complete_file_is_landed_once_settled_without_the_loop_waiting(tmp_path, monkeypatch):
    """The last chunk in: the loop asks the writer to settle the file and
    goes on; `is_settled` says when it can be checked and placed."""
    real_pwrite, stalled = os.pwrite, threading.Event()

    def stalling_pwrite(fd, data, offset):
        assert stalled.wait(30), "the test never let the disk go"
        return real_pwrite(fd, data, offset)

    monkeypatch.setattr(files.os, "pwrite", stalling_pwrite)
    data = os.urandom(24 * CHUNK)
    land = Landing(str(tmp_path))
    key = (0, 4)
    assert land.start(key, offer(data)) is None
    for at in range(0, len(data), CHUNK):
        land.write(key, at, data[at:at + CHUNK])
    land.settle_soon(key)                          # returns at once: the disk is stalled
    assert not land.is_settled(key)
    stalled.set()
    pause = threading.Event()                      # never set: a wait that times out
    for _ in range(3000):                          # polled, as the loop does, 10 ms apart
        if land.is_settled(key):
            break
        pause.wait(0.01)
    assert land.is_settled(key)
    landed = land.complete(key)
    assert landed.status == fw.DoneStatus.STORED
    assert (tmp_path / landed.name).read_bytes() == data
