"""How ``dfm run`` shows a job: tokens as JSON lines or text, and progress on stderr."""

from __future__ import annotations

import base64
import json
import math
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any, TextIO

from pydantic import BaseModel

from dfm.api import STATUS_PLACE_NAME, ErrorToken, Frame, StopToken, describe_node

from ._status import JobStatus


def json_value(value: Any) -> Any:
    """``value`` as plain JSON: tokens tagged, tuples and sets as lists, bytes as base64.

    StopToken → ``{"token": "StopToken"}``; ErrorToken → ``{"token": "ErrorToken",
    "errors": [{"type", "message", "node_id", "site", "operation", "where"}, …]}`` (``where``:
    ``stats.Summarize (node 3) on south``); non-finite floats →
    ``"NaN"``/``"Infinity"``/``"-Infinity"``; anything else JSON cannot hold →
    ``{"repr": repr(value)}``.
    """
    if isinstance(value, StopToken):
        return {"token": "StopToken"}
    if isinstance(value, ErrorToken):
        errors = [
            {
                "type": e.type,
                "message": e.message,
                "node_id": e.node_id,
                "site": e.site,
                "operation": e.operation,
                "where": e.where,
            }
            for e in value.errors
        ]
        return {"token": "ErrorToken", "errors": errors}
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((json_value(v) for v in value), key=repr)
    if isinstance(value, bytes):
        return {"bytes_base64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, BaseModel):
        return json_value(value.model_dump(mode="json"))
    return {"repr": repr(value)}


def frame_json(frame: Frame) -> Any:
    """``[0]`` as ``[0]``, the stop frame as ``"stop"``."""
    return "stop" if frame.is_stop_frame() else list(frame.frame)


class TokenPrinter:
    """Prints each token (a callback) and the job's end, as JSON lines or text.

    A JSON line has ``site``, ``node``, ``operation`` (the API name of the node's
    operation, when known), ``frame``, ``place`` and ``data``; a text line starts with
    where the token comes from, ``stats.Summarize (node 3) on south``, then frame, place
    and value, tab-separated (a token of no node, like a frame's status, starts with its
    site alone).

    Args:
        fmt: ``"json"`` (one object per line) or ``"text"`` (tab-separated).
        out: Where tokens and the end line go.
        err: Where errors go in text format.
        operations: Node id → the operation's API name (see
            ``PreparedPipeline.placement_details``).
    """

    def __init__(
        self,
        fmt: str,
        out: TextIO | None = None,
        err: TextIO | None = None,
        operations: Mapping[int | str, str] | None = None,
    ) -> None:
        """Print to ``out`` (default stdout)."""
        self._json = fmt == "json"
        self._out = out or sys.stdout
        self._err = err or sys.stderr
        self._lock = threading.Lock()
        self._operations: Mapping[int | str, str] = operations or {}

    def _write(self, line: str) -> None:
        with self._lock:
            print(line, file=self._out, flush=True)

    def __call__(
        self, site: str, node: int | str | None, frame: Frame, place: str, data: Any
    ) -> None:
        """Print one token."""
        operation = self._operations.get(node) if node is not None else None
        if self._json:
            record = {
                "site": site,
                "node": node,
                "operation": operation,
                "frame": frame_json(frame),
                "place": place,
                "data": json_value(data),
            }
            self._write(json.dumps(record, allow_nan=False, ensure_ascii=False))
        else:
            where = site if node is None else describe_node(operation, node, site)
            self._write(f"{where}\t{frame}\t{place}\t{data}")

    def finish(self, job_id: str, status: JobStatus, errors: list[Any], note: str = "") -> None:
        """The last line: the job's id, status and errors."""
        if self._json:
            record: dict[str, Any] = {
                "job": job_id,
                "status": status.name,
                "errors": [json_value(e) for e in errors],
            }
            if note:
                record["note"] = note
            self._write(json.dumps(record, allow_nan=False, ensure_ascii=False))
            return
        if note:
            self._write(note)
        self._write(f"Job {job_id}: {status.name}")
        for error in errors:
            print(f"  {error}", file=self._err, flush=True)


class Progress:
    """A progress line on stderr while a job runs: frames done, results, time.

    On a terminal the line is redrawn in place; otherwise a line is printed at each
    update. Nothing is shown for jobs that end within ``delay`` seconds.

    Args:
        frames: The number of parameter sets.
        out: The stream (stderr).
        delay: Seconds before the first update.
        interval: Seconds between updates.
    """

    def __init__(self, frames: int, out: TextIO, delay: float = 1.0, interval: float = 0.5) -> None:
        """Not started; call :meth:`start`."""
        self._frames = frames
        self._out = out
        self._delay, self._interval = delay, interval
        self._done_frames = 0
        self._results = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._tty = bool(getattr(out, "isatty", lambda: False)())
        self._shown = False
        self._started = 0.0

    def count(self, place: str, frame: Frame) -> None:
        """Note one token (called from the job's callback)."""
        if place != STATUS_PLACE_NAME:
            self._results += 1
        elif not frame.is_stop_frame():
            self._done_frames += 1

    def line(self) -> str:
        """The current progress text."""
        elapsed = time.monotonic() - self._started
        return (
            f"dfm run: {self._done_frames}/{self._frames} parameter set(s) done, "
            f"{self._results} result(s), {elapsed:.1f}s"
        )

    def start(self) -> None:
        """Start updating (from a daemon thread)."""
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="dfm-run-progress", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        if self._stop.wait(self._delay):
            return
        while True:
            text = self.line()
            self._out.write(f"\r{text}\x1b[K" if self._tty else text + "\n")
            self._out.flush()
            self._shown = True
            if self._stop.wait(self._interval if self._tty else max(self._interval, 5.0)):
                return

    def stop(self) -> None:
        """Stop updating and clear the line."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
        if self._shown and self._tty:
            self._out.write("\r\x1b[K")
            self._out.flush()
