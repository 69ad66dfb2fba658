"""The local DFM target: a whole federation inside the application's process.

Selected with ``Session(..., target="local")`` (the default). Every site runs on its
own thread with its own event loop; tokens between sites are serialized exactly as
on a distributed target. Options (session keyword arguments): ``job_timeout``,
``sync_workers``, ``wire_roundtrip``, ``buffer_limit``, ``start_timeout``,
``max_finished_jobs``; see :class:`LocalTarget`.
"""

from ._job import LocalJob
from ._target import LocalTarget

__all__ = ["LocalJob", "LocalTarget"]
