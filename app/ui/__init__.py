"""The front ends: curses and line-mode clients, the admin consoles, the
terminal, texts and translations. They may use app.core and app.net.
"""
