"""The pure core: bytes, `now` and values in; bytes, events and values out.

Nothing here opens a socket, reads the clock, draws, forks or prints; the
shells in app.net do that, the front ends in app.ui word what it returns.
A test (tests/test_layers.py) fails on any import from here into app.net,
app.ui or app.cli.
"""
