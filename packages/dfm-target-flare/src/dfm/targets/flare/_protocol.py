"""Names DFM uses on NVFLARE: app commands, aux topics, the task, the push channel."""

from __future__ import annotations

PROTOCOL_VERSION = 1
"""Bumped when the messages between the application and the service change."""

SERVE_TASK = "dfm.serve"
"""The task every client executes for as long as the service runs."""

BATCH_KEY = "dfm.batch"
"""The Shareable key holding a packed batch of entries."""
LINK_KEY = "dfm.link"
"""The Shareable key of a batch's sending link (a random id per sender)."""
NUMBER_KEY = "dfm.number"
"""The Shareable key of a batch's number on its link (from 0)."""

APP_CHANNEL = "dfm"
"""The cell channel the service pushes to the application on."""
APP_PUSH_TOPIC = "push"

SERVICE_JOB_PREFIX = "dfm-service-"
"""NVFLARE job name of a federation's service: ``dfm-service-<federation>``."""
ONESHOT_JOB_PREFIX = "dfm-job-"
"""NVFLARE job name of a per-job-mode job: ``dfm-job-<federation>-<job id>``."""


class Topic:
    """App command and aux topics (all start with ``dfm.``)."""

    HELLO = "dfm.hello"
    START = "dfm.start"
    SEND = "dfm.send"
    CANCEL = "dfm.cancel"
    ATTACH = "dfm.attach"
    RETRIEVE = "dfm.retrieve"
    JOBS = "dfm.jobs"
    SHUTDOWN = "dfm.shutdown"
    LINK = "dfm.link"
    READY = "dfm.ready"
    CREATE = "dfm.create"
    PING = "dfm.ping"
