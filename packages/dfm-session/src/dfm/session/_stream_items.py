"""What a JobStream's queue carries besides tokens, and where tokens wait for a runner."""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Iterable
from typing import NamedTuple

from ._callbacks import CallbackRunner, Delivery


class End:
    """Queued by ``end()``, ``fail()`` and ``terminate()``: the producers are done."""


END = End()


class Attach(NamedTuple):
    """Queued by ``attach()`` (``runner``) and ``detach()`` (``previous``)."""

    runner: CallbackRunner | None
    previous: CallbackRunner | None
    processed: threading.Event


class UnheardTokens:
    """The tokens that arrived while no runner was attached, oldest dropped past a limit.

    Args:
        job_id: The job (for the warning).
        limit: How many tokens are kept.
        logger: Where a drop is reported.
    """

    def __init__(self, job_id: str, limit: int, logger: logging.Logger) -> None:
        """Keep nothing yet."""
        self._job_id = job_id
        self._tokens: deque[Delivery] = deque(maxlen=limit)
        self._log = logger
        self.dropped = 0

    def __bool__(self) -> bool:
        return bool(self._tokens)

    def keep(self, tokens: Iterable[Delivery]) -> None:
        """Keep ``tokens`` (a list) until a runner attaches."""
        tokens = list(tokens)
        overflow = len(self._tokens) + len(tokens) - (self._tokens.maxlen or 0)
        if overflow > 0:
            self.dropped += overflow
            self._log.warning(
                "Job %s: no callbacks attached, dropped %d oldest buffered token(s)",
                self._job_id,
                overflow,
            )
        self._tokens.extend(tokens)

    def take(self) -> list[Delivery]:
        """Every kept token, oldest first; none are kept afterwards."""
        tokens = list(self._tokens)
        self._tokens.clear()
        return tokens
