"""`python3 -m app` from a checkout runs the same CLI as chat.pyz."""
import sys

from app.cli import main

sys.exit(main())
