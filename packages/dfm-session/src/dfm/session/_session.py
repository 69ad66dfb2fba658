"""Session: the application's entry point to a federation."""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Mapping
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, Any, Literal

from dfm.api import START_PLACE_NAME, FedInfo, FlowInfo, Frame, allow_federation
from dfm.runtime import start_telemetry, telemetry_requested
from dfm.runtime import telemetry as runtime_telemetry

from ._callbacks import CallbackDispatcher, CallbackRunner, DfmDataCallback
from ._discovery import default_target_name, load_target
from ._dispatchers import DirectDispatcher
from ._job import InputFramer, InputParams, Job
from ._job_telemetry import prepare_span, traced_execute
from ._logging import configure_session_logging
from ._results import ResultCollector
from ._target import ExecuteRequest, SessionInfo, Target

if TYPE_CHECKING:
    from dfm.api import Pipeline
    from dfm.irgen import PreparedPipeline


class Session:
    """Main entry point for executing DFM pipelines in a federation.

    A session prepares pipelines (compiles them for the federation's sites) and
    executes them on a *target*, a plugin (entry-point group ``dfm.targets``): e.g.
    ``local`` runs the whole federation on this machine, ``flare`` on NVIDIA FLARE. The
    session connects to its target on first use (or explicitly with :meth:`connect`
    or ``with``).

    Args:
        federation_name: The federation's Python package, e.g. ``examplefed``.
        homesite: The site the application runs at; results are yielded there.
        target: The target's name; default: env ``DFM_TARGET``, else the installed
            target with the highest ``default_priority`` (see :class:`Target`).
        logger: The session's logger; default :func:`configure_session_logging`.
        callback_dispatcher: Runs the callbacks of every job of the session; default a
            new :class:`DirectDispatcher`.
        telemetry: Switch DFM's OpenTelemetry instrumentation on (True) for this
            process; default: on if ``DFM_TELEMETRY=1``. Needs ``dfm-telemetry``
            (without it, a warning and no telemetry); see docs/observability.md.
        **kwargs: Options of the target (e.g. ``job_timeout`` for ``local``); unknown
            ones raise TypeError.

    Raises:
        ValueError: An empty federation name or homesite.
        TargetNotFoundError: No installed target has that name.
        TargetLoadError: The target cannot be loaded.
        TypeError: An option the target does not accept.
    """

    def __init__(
        self,
        federation_name: str,
        homesite: str,
        target: str | None = None,
        logger: logging.Logger | None = None,
        callback_dispatcher: CallbackDispatcher | None = None,
        telemetry: bool | None = None,
        **kwargs: Any,
    ) -> None:
        """Create a session; it connects on first use."""
        if not federation_name or not homesite:
            raise ValueError(
                f"A session needs a non-empty federation_name and homesite (got "
                f"{federation_name!r}, {homesite!r})"
            )
        self._federation_name = federation_name
        self._homesite = homesite
        self._logger = logger or configure_session_logging()
        self._dispatcher = callback_dispatcher or DirectDispatcher()
        self._target_name = target or os.environ.get("DFM_TARGET") or default_target_name()
        if telemetry if telemetry is not None else telemetry_requested():
            start_telemetry("application")
        allow_federation(federation_name)
        target_class = load_target(self._target_name)
        target_class.check_options(kwargs)
        info = SessionInfo(federation_name, homesite, self._logger.getChild(self._target_name))
        self._target: Target = target_class(info, **kwargs)
        self._lock = threading.Lock()
        self._connected = False
        self._runtime_module: ModuleType | None = None
        self._fed_info: FedInfo | None = None

    # -- properties ------------------------------------------------------------------
    @property
    def federation_name(self) -> str:
        """The federation package."""
        return self._federation_name

    @property
    def homesite(self) -> str:
        """The application's site."""
        return self._homesite

    @property
    def target_name(self) -> str:
        """The name of the session's target."""
        return self._target_name

    @property
    def target(self) -> Target:
        """The session's target object."""
        return self._target

    @property
    def logger(self) -> logging.Logger:
        """The session's logger."""
        return self._logger

    @property
    def callback_dispatcher(self) -> CallbackDispatcher:
        """The callback dispatcher used for all jobs created by this session."""
        return self._dispatcher

    @property
    def runtime_module(self) -> ModuleType:
        """The homesite's runtime module ``<federation>.fed.runtime.<homesite>``.

        Loaded on first access (loading can fail, so not in the constructor).

        Raises:
            ValueError: The module cannot be found or lacks ``API_VERSION``/``ThisSite``.
        """
        if self._runtime_module is None:
            from dfm.runtime import load_site_runtime_module

            try:
                module = load_site_runtime_module(self._federation_name, self._homesite)
            except Exception:
                # The exception carries the reason; the traceback is only for debugging.
                self._logger.debug(
                    "Cannot load the runtime module of %s", self._homesite, exc_info=True
                )
                raise
            self._logger.info(
                "Loaded %s (API version %s)", module.__name__, getattr(module, "API_VERSION", "?")
            )
            self._runtime_module = module
        return self._runtime_module

    def _api_version(self) -> str:
        # The constant only: preparing a pipeline never imports the homesite's adapters.
        if self._runtime_module is not None:
            return str(self._runtime_module.API_VERSION)
        from dfm.runtime import load_site_runtime_module

        module = load_site_runtime_module(self._federation_name, self._homesite, adapters=False)
        return str(module.API_VERSION)

    @property
    def fed_info(self) -> FedInfo:
        """The federation's ``fed_info.json`` (loaded once per session)."""
        if self._fed_info is None:
            self._fed_info = FedInfo.load_from_package(self._federation_name)
        return self._fed_info

    # -- lifecycle -------------------------------------------------------------------
    def connect(self, debug: bool = False) -> None:
        """Connect to the target (idempotent; ``execute`` and ``reattach`` do it too).

        Args:
            debug: Log the connection at INFO level (kept for nv-dfm-core compatibility).
        """
        if debug:
            self._logger.info("Connecting to target %s", self.target_name)
        with self._lock:
            if not self._connected:
                self._target.connect()
                self._connected = True

    def close(self, debug: bool = False) -> None:
        """Abort running jobs and disconnect (idempotent; a later use connects again).

        Args:
            debug: Log the disconnection at INFO level (kept for nv-dfm-core compatibility).
        """
        if debug:
            self._logger.info("Closing target %s", self.target_name)
        with self._lock:
            if self._connected:
                self._connected = False
                self._target.close()

    def __enter__(self) -> Session:
        """Connect."""
        self.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close; exceptions propagate."""
        self.close()

    # -- pipelines -------------------------------------------------------------------
    def prepare(
        self,
        pipeline: Pipeline,
        restrict_to_sites: Literal["homesite"] | list[str] | None = None,
        debug: bool = False,
    ) -> PreparedPipeline:
        """Compile a pipeline for the federation; reuse the result for many executions.

        Args:
            pipeline: The pipeline; an empty ``api_version`` is filled from the
                homesite's runtime module.
            restrict_to_sites: None (all sites), ``"homesite"``, or a non-empty list of
                candidate site names including the homesite.
            debug: Print where each operation runs (``stats.Summarize (node 3) on
                south``) and each site's transitions to standard error
                (``PreparedPipeline.describe()``).

        Raises:
            ValueError: An unknown site, or operations that cannot be placed.
        """
        if runtime_telemetry.ENABLED:
            with prepare_span(self._federation_name, self._homesite):
                return self._prepare(pipeline, restrict_to_sites, debug)
        return self._prepare(pipeline, restrict_to_sites, debug)

    def _prepare(
        self,
        pipeline: Pipeline,
        restrict_to_sites: Literal["homesite"] | list[str] | None,
        debug: bool,
    ) -> PreparedPipeline:
        candidates = self._candidates(restrict_to_sites)
        if pipeline.api_version == "":
            pipeline = pipeline.model_copy(update={"api_version": self._api_version()})
        from dfm.irgen import prepare

        try:
            prepared = prepare(
                pipeline,
                self.fed_info,
                self._homesite,
                self._federation_name,
                candidates,  # positional: the candidate sites
                logger=self._logger,
            )
        except Exception as e:
            self._logger.debug("prepare failed: %s", e)
            raise
        if debug:
            print(prepared.describe(), file=sys.stderr)
        return prepared

    def _candidates(self, restrict_to_sites: object) -> list[str] | None:
        if restrict_to_sites is None:
            return None
        if restrict_to_sites == "homesite":
            return [self._homesite]
        if isinstance(restrict_to_sites, (list, tuple)) and all(
            isinstance(s, str) for s in restrict_to_sites
        ):
            return list(restrict_to_sites)  # the compiler refuses an empty list
        raise ValueError(
            f"restrict_to_sites must be None, 'homesite' or a list of site names, not "
            f"{restrict_to_sites!r}"
        )

    def debug_show_code(self, pipeline: PreparedPipeline) -> dict[str, str]:
        """The Python source each participating site generates for the pipeline.

        It is exactly the module a site runs (nothing is written to the cache): its
        literals are decoded under the site's decode policy, read from the site's runtime
        package when this process has it (else the restrictive default).
        """
        from dfm.runtime import site_decode_policy
        from dfm.runtime.codegen import generate_net_source

        code = {}
        for site, netir in pipeline.net_irs().items():
            try:
                policy = site_decode_policy(pipeline.federation_name, site)
            except ValueError:
                policy = None
            code[site] = generate_net_source(netir, policy=policy)
        return code

    def execute(
        self,
        pipeline: PreparedPipeline,
        input_params: InputParams = {},  # noqa: B006 - documented default; never mutated
        autostop: bool = True,
        default_callback: DfmDataCallback | None = None,
        place_callbacks: Mapping[str, DfmDataCallback] | None = None,
        debug: bool = False,
        options: Any = None,
        force_modgen: bool = False,
    ) -> Job:
        """Execute a prepared pipeline; returns the job at once.

        Args:
            pipeline: The prepared pipeline.
            input_params: One parameter set (dict), a list of them, or None. Set i
                runs in frame ``[i]`` and must hold exactly the pipeline's PlaceParams.
                None starts the job without parameters: send them with
                ``job.send_input_params`` (and use ``autostop=False``).
            autostop: Send the stop frame after the given sets. With False, the job runs
                until ``job.send_stop_frame()``.
            default_callback: ``cb(from_site, node_id, frame, place, data)`` for every
                place without its own callback. Without any callback the job keeps its
                yields for ``job.results()``.
            place_callbacks: Callbacks by place name; they win over the default.
            debug: Passed to the target (more logging).
            options: Per-job target options, e.g. ``{"job_timeout": 30}`` on ``local``.
            force_modgen: Regenerate the sites' code instead of using caches.

        Raises:
            TypeError: ``pipeline`` is not a PreparedPipeline, or a callback cannot take
                the five arguments ``(from_site, node_id, frame, place, data)``.
            ValueError: Invalid parameter sets, mixed sync/async callbacks (or a kind
                the dispatcher cannot run), or a site cannot start the job.
        """
        from dfm.irgen import PreparedPipeline

        if not isinstance(pipeline, PreparedPipeline):
            raise TypeError(
                f"execute() takes a PreparedPipeline, not {type(pipeline).__name__}; call "
                "session.prepare(pipeline) first"
            )
        if pipeline.federation_name != self._federation_name or pipeline.homesite != self._homesite:
            raise ValueError(
                f"The pipeline was prepared for federation {pipeline.federation_name!r} and "
                f"homesite {pipeline.homesite!r}; this session is for {self._federation_name!r} "
                f"and {self._homesite!r}"
            )
        if input_params is None and autostop:
            self._logger.warning(
                "execute() with input_params=None and autostop=True: the job only gets the "
                "stop frame and finishes at once; use autostop=False to send params later"
            )
        framed = InputFramer(pipeline).frame(input_params)
        next_frame = len(framed)
        if autostop:
            framed.append((Frame.stop_frame(), {START_PLACE_NAME: FlowInfo()}))
        collect = default_callback is None and not place_callbacks
        pipeline.check_callbacks(  # the results collector hears every place
            set(place_callbacks or {}), self._logger, has_default=collect or bool(default_callback)
        )
        runner: CallbackRunner
        if collect:  # no callbacks: keep the yields for job.results()
            runner = ResultCollector({y.place for y in pipeline.yield_places if y.multiuse})
        else:
            runner = self._dispatcher.create_runner(default_callback, place_callbacks)
        self.connect()
        request = ExecuteRequest(pipeline, framed, next_frame, runner, options, force_modgen, debug)
        if runtime_telemetry.ENABLED:
            return traced_execute(
                pipeline, self._target_name, lambda: self._target.execute(request)
            )
        return self._target.execute(request)

    def reattach(
        self,
        job_id: str,
        default_callback: DfmDataCallback | None = None,
        place_callbacks: Mapping[str, DfmDataCallback] | None = None,
    ) -> Job:
        """A new handle on an existing job.

        Without callbacks the handle is informational (status, wait, cancel). With
        callbacks, tokens not yet delivered to a handle are delivered to these. The
        most recently attached handle receives the tokens.

        Returns:
            The job; for an unknown id a job with status UNKNOWN and ``was_found`` False.

        Raises:
            ValueError: ``place_callbacks`` without ``default_callback``.
        """
        if place_callbacks is not None and default_callback is None:
            raise ValueError("reattach: place_callbacks can only be given with a default_callback")
        runner = None
        if default_callback is not None:
            runner = self._dispatcher.create_runner(default_callback, place_callbacks)
        self.connect()
        return self._target.reattach(job_id, runner)
