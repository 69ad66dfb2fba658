"""Resuming a job's input in another application process (a reattached handle).

The service keeps, for a job whose homesite takes no part, its prepared pipeline and
where its input is (the next frame, whether the stop frame went out), and knows the
next number of each of the application's links of the job. A handle reattached from a
new process numbers its entries and frames on from there, so the sites take what it
sends as the continuation of what the first process sent. One process at a time may
send a job's input.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from dfm.session import InputFramer

from ._wire import APP, Sequencer

if TYPE_CHECKING:
    from ._job import FlareJobRecord


def resume_input(
    record: FlareJobRecord, reply: dict[str, Any], sequencer: Sequencer, logger: logging.Logger
) -> None:
    """Let the record send input again, if the service's attach ``reply`` allows it.

    Without a stored pipeline (the homesite takes part: its part ran in the process that
    is gone) the record stays without a framer: the handle cannot send input.
    """
    links = reply.get("links")
    if isinstance(links, dict):
        for target, seq in links.items():
            if isinstance(target, str) and isinstance(seq, int) and seq >= 0:
                sequencer.start_at(record.job_id, APP, target, seq)
    extra = reply.get("extra") or {}
    text = extra.get("prepared")
    if not isinstance(text, str) or record.homesite in record.sites:
        return
    from dfm.irgen import PreparedPipeline

    try:
        prepared = PreparedPipeline.model_validate_json(text)
    except ValueError as e:
        logger.warning("Job %s: its stored pipeline cannot be read (%s)", record.job_id, e)
        return
    next_frame = extra.get("next_frame", 0)
    stopped = bool(extra.get("stopped", False))
    record.prepared = prepared
    record.framer = InputFramer(prepared, int(next_frame), stopped)
