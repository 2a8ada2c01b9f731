"""``LYRA_MAVERA_LOG=debug|info|warning|error``: turn the SDK's logging on without code,
as ``OPENAI_LOG`` does for openai-python.

Read once, when ``lyra_mavera`` is imported: it sets the ``lyra_mavera`` logger's
level and gives it one stderr handler (records still propagate to your own handlers).
What is logged is metadata only (method, path, status, attempt, ids), never keys,
headers or bodies.

Imports nothing from the package.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings

__all__ = ["ENV_VAR", "configure_from_env"]

ENV_VAR = "LYRA_MAVERA_LOG"
_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}
_HANDLER_NAME = "lyra_mavera.env"


def configure_from_env() -> logging.Handler | None:
    """Apply ``LYRA_MAVERA_LOG`` if it is set; the handler added (``None`` if none)."""
    value = os.environ.get(ENV_VAR, "").strip().lower()
    if not value:
        return None
    level = _LEVELS.get(value)
    if level is None:
        warnings.warn(
            f"{ENV_VAR}={value!r} is not one of {', '.join(_LEVELS)}; logging left as it is",
            stacklevel=2,
        )
        return None
    logger = logging.getLogger("lyra_mavera")
    logger.setLevel(level)
    for handler in logger.handlers:
        if handler.get_name() == _HANDLER_NAME:
            return handler  # imported again (importlib.reload): one handler is enough
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    return handler
