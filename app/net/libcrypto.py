"""The interpreter's own OpenSSL libcrypto, reached through ctypes.

Every CPython this program supports loads libcrypto for `hashlib`: a ctypes
handle on the `_hashlib` extension module resolves symbols in the libraries it
was linked against too, so we use exactly the libcrypto the interpreter was
built with, without naming a file and without installing anything.
(docs/SECURITY.md "Where the primitives come from".)

This module only finds the library; the primitives built on it live beside it.
"""
import ctypes
from typing import Optional

_handle: Optional[ctypes.CDLL] = None
_why_not: Optional[str] = None


def load() -> Optional[ctypes.CDLL]:
    """The libcrypto handle, or None (then `why_unavailable()` says why in one line)."""
    global _handle, _why_not
    if _handle is not None or _why_not is not None:
        return _handle
    try:
        import _hashlib
        handle = ctypes.CDLL(_hashlib.__file__)
        handle.OpenSSL_version_num.restype = ctypes.c_ulong
        version = handle.OpenSSL_version_num()
    except (ImportError, OSError, AttributeError) as error:
        _why_not = "no usable OpenSSL libcrypto in this Python ({})".format(error)
        return None
    if version < 0x30000000:
        _why_not = "this Python's OpenSSL is {:#x}; 3.0 or newer is needed".format(version)
        return None
    _handle = handle
    return _handle


def why_unavailable() -> Optional[str]:
    load()
    return _why_not
