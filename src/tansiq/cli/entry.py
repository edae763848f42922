"""The ``tansiq`` command's entry point.

The command's imports (numpy, shapely, numba, FastAPI) take most of a second,
and a Ctrl-C among them printed a traceback, one of them an ``ImportError`` of
numpy (a reviewer). Until they are done, Ctrl-C ends the command at once, as
"aborted" (exit status 130): nothing has been read or written yet. After, the
commands handle it themselves.
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType


def main() -> None:
    ours = signal.getsignal(signal.SIGINT) is signal.default_int_handler
    if ours:  # (not where it is ignored: a background job's)
        signal.signal(signal.SIGINT, _abort_at_once)
    from tansiq.cli.main import main as run

    if ours:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    run()


def _abort_at_once(signum: int, frame: FrameType | None) -> None:
    sys.stderr.write("aborted\n")
    sys.stderr.flush()
    os._exit(130)


if __name__ == "__main__":  # python -m tansiq.cli.entry, as python -m tansiq
    main()
