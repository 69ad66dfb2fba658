"""Names DFM uses on NVFLARE: app commands, aux topics, the task, the push channel."""

from __future__ import annotations

PROTOCOL_VERSION = 2
"""Bumped when the messages between the application and the service change."""

SERVE_TASK = "dfm.serve"
"""The task every client executes for as long as the service runs."""

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
    READY = "dfm.ready"
