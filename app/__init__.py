"""chat.pyz: a group chat room for a LAN of lab machines, in the terminal."""
# This file must stay parseable by old Pythons (no f-strings, no annotations):
# it is the first of our files an interpreter reads, so it is where a too-old
# python3 gets one clear line instead of a SyntaxError from a later module.
import sys

__version__ = "0.1.0"
MIN_PYTHON = (3, 8)

if sys.version_info < MIN_PYTHON:
    sys.stderr.write(
        "chat.pyz needs Python %d.%d or newer (found %s)\n"
        % (MIN_PYTHON[0], MIN_PYTHON[1], sys.version.split()[0])
    )
    sys.exit(1)
