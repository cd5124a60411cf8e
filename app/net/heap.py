"""How glibc's malloc keeps memory a file transfer frees (docs/PERFORMANCE.md,
"Fifth pass").

A file chunk on loopback is ~64 KB, and every one is a few buffers of that
size that live for a moment: the pread, the sealed datagram, the received
datagram, the opened plaintext. CPython hands buffers over 512 bytes to the C
library's malloc. With glibc's defaults, freeing such a buffer at the top of
the heap, once more than 128 KB is free there, gives the memory back to the
kernel (brk shrinks), and the next chunk takes it back again: a system call
and 16 zero-filled page faults for each 64 KB, in every process, for every
chunk. Measured, that was about half of the server's CPU in a 30-member
handout.

`keep_freed_memory` sets the two documented knobs (mallopt(3)) so that up to
TRIM_THRESHOLD of free memory stays with the process and buffers up to
MMAP_THRESHOLD (the 1 MiB hashing blocks) come from the heap rather than from
a fresh mmap each time. Setting them by hand also turns off glibc's own
sliding thresholds, so the behaviour is the same from the first chunk.

The cost is memory the process keeps after a burst: at most TRIM_THRESHOLD
above what it had in use at its peak, which a chat process never reaches
(its peak is a few windows of chunks). Where the C library is not glibc (musl
has no such knobs; other systems have other allocators) nothing is done. A
person who set MALLOC_TRIM_THRESHOLD_ or MALLOC_MMAP_THRESHOLD_ (glibc's own
environment variables) keeps their setting.
"""
import os
import sys

M_TRIM_THRESHOLD = -1        # <malloc.h>
M_MMAP_THRESHOLD = -3
TRIM_THRESHOLD = 32 << 20
MMAP_THRESHOLD = 4 << 20
_OVERRIDES = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_")


def keep_freed_memory() -> bool:
    """True when glibc took the settings; False (and nothing changed) where
    there is no glibc mallopt or the person chose their own."""
    if not sys.platform.startswith("linux") or any(name in os.environ for name in _OVERRIDES):
        return False
    try:
        import ctypes                 # a Python built without _ctypes: nothing to do

        libc = ctypes.CDLL(None)
        if not hasattr(libc, "gnu_get_libc_version"):    # musl: mallopt is a no-op stub
            return False
        mallopt = libc.mallopt
    except (ImportError, OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    # mallopt returns 1 on success, 0 on error.
    return mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 \
        and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
