"""Entry point of an environment worker process (see ``harlow.psychlab.dmlab_workers``).

``python -m harlow.psychlab.worker_main FD``: FD is the worker's end of a socket to
its parent. This module imports nothing but the standard library and
``dmlab_workers`` before it learns what to build, so a worker never loads TensorFlow
unless its environments do.
"""

from __future__ import annotations

import signal
import sys
from multiprocessing.connection import Connection

from harlow.psychlab.dmlab_workers import serve


def main(argv: list[str]) -> None:
    """Serves the parent on the socket ``argv[1]`` until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when workers stop
    serve(Connection(int(argv[1])))


if __name__ == "__main__":
    main(sys.argv)
