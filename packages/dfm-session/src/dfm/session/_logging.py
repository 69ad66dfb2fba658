"""configure_session_logging: opt-in console logging for sessions."""

from __future__ import annotations

import logging
import os

LOGGER_NAME = "dfm.session"
_TRUE = {"true", "1", "yes"}


def configure_session_logging(force_enable: bool = False) -> logging.Logger:
    """Return the session logger, switching console output on when asked.

    Logging is switched on when ``force_enable`` is true or the environment variable
    ``DFM_SESSION_LOG`` is ``true``, ``1`` or ``yes`` (any case). The level comes from
    ``DFM_SESSION_LOG_LEVEL`` (default ``INFO``; unknown names mean ``INFO``). When on
    and the logger has no handler yet, one stderr handler is attached; calling this
    again does not add another. When off, the logger is returned untouched, so
    warnings still reach Python's last-resort handler.

    Args:
        force_enable: Switch console logging on regardless of the environment.

    Returns:
        The logger named ``dfm.session``.
    """
    logger = logging.getLogger(LOGGER_NAME)
    enabled = force_enable or os.environ.get("DFM_SESSION_LOG", "").strip().lower() in _TRUE
    if not enabled or logger.handlers:
        return logger
    level_name = os.environ.get("DFM_SESSION_LOG_LEVEL", "INFO").strip().upper()
    level = logging.getLevelNamesMapping().get(level_name, logging.INFO)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s - %(name)s - %(levelname)s - %(message)s"))
    handler.setLevel(level)
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.info("DFM session logging enabled at level %s", logging.getLevelName(level))
    return logger
