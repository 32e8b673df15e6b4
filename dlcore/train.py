"""``python -m dlcore.train RUN_DIR``: the training worker (implemented in :mod:`dlcore.engine.worker`)."""
import sys

from dlcore.engine.worker import main

if __name__ == "__main__":
    sys.exit(main(sys.argv))
