from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from dfm.session import configure_session_logging


@pytest.fixture
def clean_logger() -> Iterator[logging.Logger]:
    logger = logging.getLogger("dfm.session")
    saved = (list(logger.handlers), logger.level)
    logger.handlers.clear()
    yield logger
    logger.handlers[:] = saved[0]
    logger.setLevel(saved[1])


def test_off_by_default(clean_logger: logging.Logger, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DFM_SESSION_LOG", raising=False)
    assert configure_session_logging() is clean_logger
    assert clean_logger.handlers == []


def test_env_enables_once(clean_logger: logging.Logger, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DFM_SESSION_LOG", "YES")
    monkeypatch.setenv("DFM_SESSION_LOG_LEVEL", "debug")
    configure_session_logging()
    configure_session_logging()
    assert len(clean_logger.handlers) == 1 and clean_logger.level == logging.DEBUG


def test_force_and_unknown_level(
    clean_logger: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DFM_SESSION_LOG", raising=False)
    monkeypatch.setenv("DFM_SESSION_LOG_LEVEL", "chatty")
    configure_session_logging(force_enable=True)
    assert clean_logger.level == logging.INFO
