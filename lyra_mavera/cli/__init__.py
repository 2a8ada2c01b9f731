"""The ``lyra-mavera`` command line (needs the ``cli`` extra: click and rich).

Exit codes: 0 success; 1 API or network error; 2 usage error or invalid input (a bad
flag, an unreadable file, a busy port); 3 configuration error (missing key, insecure
URL); 4 a bot failed or a wait timed out; 5 a bulk run ended with rows that are not ok
(failed or may exist); 130 interrupted (Ctrl-C).

May import anything in the package but ``contrib/``.
"""

from __future__ import annotations

import signal
import sys

__all__ = ["main"]


def _prepare_process() -> None:
    """Make Ctrl-C and output behave the same however the process was started."""
    # A parent that ignores SIGINT (a background job, some CI runners, a test runner
    # started with SIGINT ignored) passes SIG_IGN on through exec, and Python then
    # installs no KeyboardInterrupt handler: Ctrl-C would do nothing and a bulk run
    # could not be stopped cleanly. Always start from Python's default.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    # Data is printed as it came; on a terminal or pipe whose encoding cannot show a
    # character, show an escape rather than die with UnicodeEncodeError.
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")


def main() -> None:
    """Entry point of ``lyra-mavera`` and ``python -m lyra_mavera``."""
    _prepare_process()
    try:
        from ._app import main as run_app  # click and rich are optional
    except ImportError as exc:  # pragma: no cover - depends on what is installed
        missing = exc.name or "click/rich"
        print(
            f"lyra-mavera: the command line needs {missing}; "
            "install it with: pip install 'lyra-mavera[cli]'",
            file=sys.stderr,
        )
        raise SystemExit(2) from None
    raise SystemExit(run_app())
