"""The ``lyra-mavera`` command line (needs the ``cli`` extra: click and rich).

Exit codes: 0 success; 1 API or network error; 2 usage error or invalid input;
3 configuration error (missing key, insecure URL); 4 a bot failed or a wait timed out;
5 a bulk run finished with failed rows; 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main() -> None:
    """Entry point of ``lyra-mavera`` and ``python -m lyra_mavera``."""
    try:
        from ._app import cli  # click and rich are optional
    except ImportError as exc:  # pragma: no cover - depends on what is installed
        missing = exc.name or "click/rich"
        print(
            f"lyra-mavera: the command line needs {missing}; "
            "install it with: pip install 'lyra-mavera[cli]'",
            file=sys.stderr,
        )
        raise SystemExit(2) from None
    cli(prog_name="lyra-mavera")
