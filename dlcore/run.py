"""``python -m dlcore.run …``: the lecturer's command (implemented in :mod:`dlcore.engine.cli`)."""
import sys

from dlcore.engine.cli import main

if __name__ == "__main__":
    sys.exit(main())
