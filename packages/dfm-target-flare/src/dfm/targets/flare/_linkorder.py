"""LinkOrder: a receiver handles each sending link's batches in the order they were sent.

A :class:`~._sender.LinkSender` keeps several batches in flight, so they may arrive out
of order. Each batch carries its link's id (random per sender) and its number on that
link; the receiver handles batch ``n`` only after ``n - 1``. Entries of one source
for different targets (a site's last token for the application, then its ``done``
for the service) therefore still arrive in the order the site sent them. A batch seen
before (a retry after a lost reply) is dropped; the entries' own numbers catch the rest.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from ._wire import Entry

MAX_AHEAD = 64
"""Batches a link may send ahead of the one the receiver waits for."""
MAX_LINKS = 4096
"""Sending links remembered (the oldest is forgotten first)."""


class LinkOrderError(ValueError):
    """A batch the receiver refuses (untrusted input: its numbering is impossible)."""


class LinkOrder:
    """Per sending link: the next batch number expected, and the batches that came early.

    Thread-safe; ``handle`` is called under the receiver's lock, batch by batch in link
    order, so it must not block.

    Args:
        handle: Handles one batch's entries.
    """

    def __init__(self, handle: Callable[[list[Entry]], None]) -> None:
        """No link seen yet."""
        self._handle = handle
        self._expected: OrderedDict[str, int] = OrderedDict()
        self._early: dict[str, dict[int, list[Entry]]] = {}
        self._lock = threading.Lock()
        self.duplicates = 0

    def receive(self, link: str, number: int, entries: list[Entry]) -> None:
        """A batch from ``link``: handled now if it is the next, else kept until it is.

        Raises:
            LinkOrderError: The number is negative, or too far ahead of the expected one.
        """
        if number < 0:
            raise LinkOrderError(f"batch number {number} of link {link!r} is negative")
        with self._lock:
            expected = self._expected.get(link, 0)
            if number < expected:
                self.duplicates += 1
                return
            early = self._early.setdefault(link, {})
            if number > expected:
                if number - expected > MAX_AHEAD:
                    raise LinkOrderError(
                        f"batch {number} of link {link!r} is more than {MAX_AHEAD} ahead of "
                        f"batch {expected}, which never came"
                    )
                if number in early:
                    self.duplicates += 1
                else:
                    early[number] = entries
                return
            self._handle(entries)
            expected += 1
            while expected in early:
                self._handle(early.pop(expected))
                expected += 1
            if not early:
                del self._early[link]
            self._expected[link] = expected
            self._expected.move_to_end(link)
            while len(self._expected) > MAX_LINKS:
                old, _ = self._expected.popitem(last=False)
                self._early.pop(old, None)
