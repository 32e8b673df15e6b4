"""``python -m dlcore.data fetch cifar10 fashion_mnist``: download data sets into the Keras cache
(implemented in :mod:`dlcore.engine.fetch`)."""
import sys

from dlcore.engine.fetch import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
