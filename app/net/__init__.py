"""The IO shells: sockets, selectors loops, signals, fork, the channels
between processes, network interfaces. They run the core (app.core) and send
what it says; they never import a front end (app.ui): app.cli hands one in.
"""
