"""The curses client's front end, one module per role (app/ui/client_tui.py runs it).

  terminal   curses set up once for two processes: windows, keys, drawing
  login      the LAN search and pick list before curses, then the name and the join
  side       what both processes share after the fork: own and other windows
  receiver   the child: the connection and the message pane
  sender     the parent: keys, the status and input lines
  commands   the input line's slash commands, parsed into typed values
  messages   the vocabulary the two processes speak over their channel
"""
