"""Reading what a person types, for every front end (curses or line mode).

No curses here: line mode must run where curses cannot.
"""
READ_SIZE = 65536       # bytes read from the terminal (or a piped stdin) at once
ESC_WAIT = 0.05         # a lone ESC is the Escape key if nothing follows this soon
