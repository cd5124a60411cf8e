"""Long-term keys on disk, and the servers a client has chosen to trust.

A client's X25519 key pair lives in its config dir (`$XDG_CONFIG_HOME/chat.pyz`
or `~/.config/chat.pyz`), the server's in its state dir; each in a file of
mode 600 holding the private key in hex. The client remembers each server's
key per address in `known_servers` (trust on first use, as ssh's
known_hosts); a changed key stops it with one line that says how to accept
the new key deliberately. A home that cannot be written gets a key for this
run only and one line saying so, never a traceback.
"""
import binascii
import hashlib
import os
from typing import Callable, Dict, List, Optional, Tuple

from app.core import problems, words
from app.core.secure_session import KeyPair
from app.net import primitives

KEY_FILE = "identity.key"
KNOWN_SERVERS = "known_servers"


class KeyStoreError(Exception):
    """A key file that exists but cannot be used: its str() is a coded
    problem (app/core/problems.py: key_read, key_damaged) the front end words."""


def config_dir() -> str:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "chat.pyz")


def fingerprint(public: bytes) -> str:
    """Four words people can compare aloud (PGP word list over SHA-256)."""
    return words.fingerprint_words(hashlib.sha256(public).digest(), 4)


def load_or_create(directory: str, notes: List[str]) -> KeyPair:
    """The key pair kept in `directory` (made on first use). When it cannot be
    kept there, a pair for this run only, and a coded problem (key_keep) in
    `notes` saying so for the front end to word."""
    path = os.path.join(directory, KEY_FILE)
    try:
        with open(path, "r", encoding="ascii") as handle:
            text = handle.read().strip()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise KeyStoreError(problems.detail("key_read", exc.errno, path))
    else:
        try:
            private = binascii.unhexlify(text)
        except (binascii.Error, ValueError):
            private = b""
        if len(private) != 32:
            raise KeyStoreError(problems.detail("key_damaged", None, path))
        return private, primitives.public_of(private)
    pair = primitives.new_keypair()
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        descriptor = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(binascii.hexlify(pair[0]).decode() + "\n")
        os.replace(path + ".tmp", path)
    except OSError as exc:
        notes.append(problems.detail("key_keep", exc.errno, directory))
    return pair


class KnownServers:
    """`known_servers`: one line per server, `ADDRESS HEXKEY`."""

    def __init__(self, directory: str, accept_new: bool = False) -> None:
        self.path = os.path.join(directory, KNOWN_SERVERS)
        self.accept_new = accept_new
        self.notes: List[str] = []

    def _read(self) -> Dict[str, str]:
        known: Dict[str, str] = {}
        try:
            with open(self.path, "r", encoding="utf-8") as handle:
                for line in handle:
                    parts = line.split()
                    if len(parts) == 2:
                        known[parts[0]] = parts[1]
        except OSError:
            pass
        return known

    def _write(self, known: Dict[str, str]) -> None:
        try:
            os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
            with open(self.path + ".tmp", "w", encoding="utf-8") as handle:
                handle.writelines("%s %s\n" % item for item in sorted(known.items()))
            os.replace(self.path + ".tmp", self.path)
        except OSError as exc:
            self.notes.append(problems.detail("known_keep", exc.errno, self.path))

    def checker(self, address: str) -> Callable[[bytes], Optional[str]]:
        """The check for the server at `address`: None if its key is the one we
        trust or we have none for it yet, else the fingerprint of the key we
        trust for it (the front end says what to do). Nothing is written: see
        `rememberer`."""
        def check(key: bytes) -> Optional[str]:
            seen = self._read().get(address)
            if seen is None or self.accept_new or seen == binascii.hexlify(key).decode():
                return None
            try:
                return fingerprint(binascii.unhexlify(seen))
            except (binascii.Error, ValueError):
                return "?"
        return check

    def rememberer(self, address: str) -> Callable[[bytes], None]:
        """Remember `address`'s key, once the server has proved the session
        (in a password room, also the password): trust on first use."""
        def remember(key: bytes) -> None:
            known = self._read()
            hex_key = binascii.hexlify(key).decode()
            if known.get(address) != hex_key:
                known[address] = hex_key
                self._write(known)
        return remember


def server_identity(state_dir: str, notes: List[str]) -> KeyPair:
    return load_or_create(state_dir, notes)


def client_identity(notes: List[str]) -> Tuple[KeyPair, str]:
    directory = config_dir()
    return load_or_create(directory, notes), directory


class ClientSecurity:
    """What a client needs for secure sessions, loaded once per run."""

    def __init__(self, password: Optional[str], accept_new_key: bool) -> None:
        self.notes: List[str] = []
        self.static, directory = client_identity(self.notes)
        self.known = KnownServers(directory, accept_new_key)
        self.suite = primitives.LibcryptoSuite(password)
        self.password = password is not None


def client_security(password: Optional[str], insecure: bool,
                    accept_new_key: bool) -> Optional[ClientSecurity]:
    """None with --insecure. Raises KeyStoreError, or CryptoUnavailable when
    this Python cannot do it (one line each for the user)."""
    if insecure:
        return None
    why = primitives.unavailable()
    if why is not None:
        raise CryptoUnavailable(problems.detail("no_crypto", None, why))
    return ClientSecurity(password, accept_new_key)


class CryptoUnavailable(Exception):
    """No usable libcrypto: its str() is a coded problem (no_crypto, with the
    technical why) the front end words."""
