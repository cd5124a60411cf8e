"""app.net.heap: glibc keeps the memory a file chunk frees, so the next chunk
costs no page faults (docs/PERFORMANCE.md "Fifth pass")."""
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent

# A chunk's life in miniature: a 64 KB read, its sealed copy and the opened
# plaintext, all freed before the next chunk. Prints the minor page faults.
CHUNKS = """
import os, resource, sys
sys.path.insert(0, %r)
if sys.argv[1] == "tuned":
    from app.net import heap
    assert heap.keep_freed_memory()
block = os.urandom(65440)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(2000):
    read = bytearray(block); sealed = bytes(read); opened = bytes(sealed[:-16])
    del read, sealed, opened
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
""" % str(ROOT)


def page_faults(mode: str, env=None) -> int:
    done = subprocess.run([sys.executable, "-c", CHUNKS, mode], capture_output=True,
                          text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    return int(done.stdout)


def is_glibc() -> bool:
    try:
        return (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")
    except (ValueError, OSError):
        return False


glibc = pytest.mark.skipif(not is_glibc(), reason="glibc's mallopt is what is tested")


@glibc
def test_freed_chunks_stay_with_the_process_instead_of_faulting_back_in():
    default, tuned = page_faults("default"), page_faults("tuned")
    # 2000 chunks of three 64 KB buffers: glibc's defaults give the memory
    # back and fault it in again (~16 pages a chunk); kept, it is reused.
    assert default > 10000, default
    assert tuned < default / 20, (default, tuned)


@glibc
def test_a_persons_own_malloc_setting_is_kept():
    env = dict(os.environ, MALLOC_TRIM_THRESHOLD_="131072")
    code = "import sys; sys.path.insert(0, %r); from app.net import heap; " \
           "print(heap.keep_freed_memory())" % str(ROOT)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, env=env)
    assert done.stdout.strip() == "False", done.stderr
