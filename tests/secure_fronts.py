"""A ClientCore behind its SecureClient, for tests that drive clients by hand
(the product builds the same in app/net/client_net.py from the user's key)."""
from app.core.client_core import ClientCore
from app.core.secure_client import SecureClient
from app.core.secure_session import client_token
from app.net import primitives


def secure_front(name, now, password=None, check=lambda key: None, static=None,
                 remember=lambda key: None, rng=None):
    suite = primitives.LibcryptoSuite(password)
    static = static or primitives.new_keypair()
    run = suite.random(16)
    core = ClientCore(name, now, rng=rng, token=client_token(static[1], run))
    return SecureClient(core, suite, static, run, check, password is not None, now, remember)
