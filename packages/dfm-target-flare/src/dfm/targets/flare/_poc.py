"""``dfm poc``: a whole NVFLARE federation on 127.0.0.1, derived from a federation config.

NVFLARE's CLI (``nvflare poc prepare|start|stop``) does the work, run as subprocesses
with ``HOME`` and ``NVFLARE_POC_WORKSPACE`` inside the DFM workspace, so nothing is
written outside it. ``start`` launches the POC in its own process group (recorded in
``dfm-flare.json``) and returns once every client is connected and the DFM service job
answers. ``stop`` asks NVFLARE to stop, then ends whatever is left of what it started:
its process group, and the job processes NVFLARE started in groups of their own.

The server and clients inherit the environment of ``start`` (and NVFLARE passes it on to
the job processes the DFM sites run in): ``DFM_TELEMETRY=1 dfm poc start ...`` switches
telemetry on at every site, ``OTEL_*`` configures it there.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ._pocprocess import kill_leftovers, nvflare_cli, run_command, start_at_once
from ._policy import apply_policies
from ._project import Topology, load_topology, project_dict
from ._workspace import FederationState, Workspace

DEFAULT_PORT = 8002
Say = Callable[[str], None]


class PocError(RuntimeError):
    """A POC command failed; the message says why and what to do."""


def federation_path(config: Any, config_path: Path) -> list[str]:
    """The directories the sites need on ``sys.path`` to import the federation package.

    Raises:
        PocError: The generated package is neither next to the config, in the working
            directory, nor installed.
    """
    package = config.code_package
    for base in (config_path.parent, Path.cwd()):
        if (base / package / "fed" / "__init__.py").is_file():
            return [str(base.resolve())]
    spec = importlib.util.find_spec(package)
    if spec is not None and spec.origin is not None:
        return []  # installed in this environment, which the POC sites share
    raise PocError(
        f"The federation package {package!r} is not next to {config_path} nor installed; "
        f"generate it first: `dfm gen {config_path} --output {config_path.parent}`"
    )


class Poc:
    """The POC federation of one workspace.

    Args:
        workspace: The DFM workspace.
        say: Where progress lines go.
        site_environment: Variables added to this process's environment for the
            server and clients ``start`` launches (e.g. ``DFM_TELEMETRY``, ``OTEL_*``).
    """

    def __init__(
        self,
        workspace: Workspace,
        say: Say | None = None,
        site_environment: Mapping[str, str] | None = None,
    ) -> None:
        """Nothing runs yet."""
        self.ws = workspace
        self.say = say or (lambda line: print(line, flush=True))
        self.site_environment = dict(site_environment or {})
        self._started = time.monotonic()

    def _progress(self, line: str) -> None:
        self.say(f"[{time.monotonic() - self._started:5.1f}s] {line}")

    # -- prepare -----------------------------------------------------------------------
    def prepare(self, config_path: Path, homesite: str, port: int | None = None) -> FederationState:
        """Provision a POC federation for the config (startup kits, DFM's site policies).

        Raises:
            PocError: A POC of this workspace is running, or NVFLARE failed.
            ValueError: The config or the homesite is wrong.
        """
        if self.ws.has_state() and self.is_running(self.ws.load()):
            raise PocError(
                f"The POC of {self.ws.root} is running; stop it first: `dfm poc stop "
                f"{config_path} --homesite {homesite} --workspace {self.ws.root}`"
            )
        config, topology = load_topology(config_path, homesite)
        python_path = federation_path(config, config_path)
        self.ws.root.mkdir(parents=True, exist_ok=True)
        chosen = port or DEFAULT_PORT
        project_file = self.ws.root / "project.yml"
        import yaml

        project_file.write_text(
            yaml.safe_dump(project_dict(topology, port=chosen), sort_keys=False), encoding="utf-8"
        )
        self._progress(f"preparing the POC of {topology.federation} in {self.ws.poc_dir}")
        code, output = run_command(
            [*nvflare_cli(), "poc", "prepare", "-i", str(project_file), "--force"],
            self.ws.nvflare_env(),
            self.ws.log_file,
            120,
        )
        if code != 0:
            raise PocError(f"`nvflare poc prepare` failed (exit {code}):\n{output.strip()}")
        prod = self.ws.poc_dir / topology.project / "prod_00"
        apply_policies(prod, topology.server_name, list(topology.clients))
        start_at_once(prod)
        state = FederationState(
            kind="poc",
            federation=topology.federation,
            homesite=homesite,
            config=str(config_path.resolve()),
            project=topology.project,
            server_site=topology.server_site,
            clients=list(topology.clients),
            admin=topology.admin,
            admin_kit=str(prod / topology.admin),
            port=chosen,
            python_path=python_path,
        )
        self.ws.save(state)
        self._describe(topology, state)
        return state

    def _describe(self, topology: Topology, state: FederationState) -> None:
        server = topology.server_site or f"{topology.server_name} (relay only)"
        self._progress(
            f"prepared: server {server}, clients {', '.join(topology.clients)}, application "
            f"{topology.homesite} as admin {topology.admin}; port {state.port}"
        )

    def _state_for(self, config_path: Path, homesite: str, port: int | None) -> FederationState:
        if self.ws.has_state():
            state = self.ws.load()
            same = (
                Path(state.config) == config_path.resolve()
                and state.homesite == homesite
                and (port is None or port == state.port)
                and Path(state.admin_kit).is_dir()
            )
            if same:
                return state
        return self.prepare(config_path, homesite, port)

    # -- start -------------------------------------------------------------------------
    def start(
        self, config_path: Path, homesite: str, port: int | None = None, timeout: float = 120.0
    ) -> FederationState:
        """Start the POC (preparing it if needed) and its DFM service; return when ready.

        Raises:
            PocError: It did not get ready within ``timeout`` (what was started is stopped).
        """
        self._started = time.monotonic()
        state = self._state_for(config_path, homesite, port)
        if self.is_running(state):
            self._progress("the POC is already running")
        else:
            self._launch(state)
        try:
            self._wait_ready(state, timeout)
        except BaseException:
            self._progress("not ready; stopping what was started")
            self.stop()
            raise
        return state

    def _clear_stale_markers(self, state: FederationState) -> None:
        """Remove the supervisor files a killed POC leaves behind.

        ``sub_start.sh`` exits at once ("Gracefully shutdown") when it finds a ``pid.fl``
        of a dead process next to a ``shutdown.fl``, so a POC stopped by force could
        never start again.
        """
        prod = self.ws.poc_dir / state.project / "prod_00"
        for name in [state.server_site or "server", *state.clients]:
            for marker in ("pid.fl", "shutdown.fl", "restart.fl", "daemon_pid.fl"):
                (prod / name / marker).unlink(missing_ok=True)

    def _launch(self, state: FederationState) -> None:
        self._clear_stale_markers(state)
        command = [*nvflare_cli(), "poc", "start", "--no-wait"]
        for admin in (state.admin, f"admin@{state.admin.split('@', 1)[1]}"):
            command += ["-ex", admin]
        self.ws.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.ws.log_file.open("ab") as log:
            process = subprocess.Popen(
                command,
                env={**self.ws.nvflare_env(state), **self.site_environment},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=str(self.ws.root),
            )
        # The launcher exits within seconds (--no-wait); reap it so it leaves no zombie.
        threading.Thread(target=process.wait, name="dfm-poc-launcher", daemon=True).start()
        state.launcher_pgid = process.pid
        self.ws.save(state)
        self._progress(
            f"started the server and clients (process group {process.pid}); server on "
            f"port {state.port}"
        )

    def _wait_ready(self, state: FederationState, timeout: float) -> None:
        from ._admin import AdminLink, NotRunningError
        from ._servicejob import ensure_service

        deadline = time.monotonic() + timeout
        log = logging.getLogger("dfm.targets.flare.poc")
        admin = AdminLink(state.admin, Path(state.admin_kit), log)
        while True:
            if time.monotonic() > deadline:
                raise PocError(
                    f"the POC server did not answer within {timeout:g}s; see `dfm poc logs`"
                )
            try:
                admin.open(timeout=min(5.0, max(0.5, deadline - time.monotonic())))
                break
            except NotRunningError:
                time.sleep(0.3)
        self._progress("the server answers")
        try:
            seen: set[str] = set()
            while True:
                connected = set(admin.clients()) & set(state.clients)
                for client in sorted(connected - seen):
                    self._progress(
                        f"client {client} connected ({len(connected)}/{len(state.clients)})"
                    )
                seen |= connected
                if connected == set(state.clients):
                    break
                if time.monotonic() > deadline:
                    missing = ", ".join(sorted(set(state.clients) - connected))
                    raise PocError(
                        f"client(s) {missing} did not connect within {timeout:g}s; "
                        f"see `dfm poc logs`"
                    )
                time.sleep(0.3)
            info = ensure_service(
                admin,
                state.federation,
                list(state.clients),
                state.server_site,
                self.ws.jobs_dir,
                log,
                timeout=max(5.0, deadline - time.monotonic()),
                progress=self._progress,
            )
            self._progress(
                f"ready: DFM service job {info.job_id} serves {', '.join(sorted(info.ready))}"
            )
        finally:
            admin.close()

    # -- status, logs ------------------------------------------------------------------
    def is_running(self, state: FederationState) -> bool:
        """Whether the process group ``start`` launched still has processes."""
        if state.launcher_pgid is None:
            return False
        try:
            os.killpg(state.launcher_pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def status(self) -> bool:
        """Print what runs; True if the POC runs and the service answers."""
        from ._admin import AdminLink, NotRunningError
        from ._servicejob import live_services

        state = self.ws.load()
        self.say(f"workspace   {self.ws.root}")
        self.say(f"federation  {state.federation} (config {state.config})")
        self.say(f"homesite    {state.homesite} (admin {state.admin})")
        server = state.server_site or "relay only"
        self.say(f"server      127.0.0.1:{state.port} (site {server})")
        if not self.is_running(state):
            self.say("status      not running (start it with `dfm poc start`)")
            return False
        admin = AdminLink(state.admin, Path(state.admin_kit), logging.getLogger(__name__))
        try:
            admin.open(timeout=5.0)
        except NotRunningError as e:
            self.say(
                f"status      processes run (group {state.launcher_pgid}), server does "
                f"not answer: {e}"
            )
            return False
        try:
            connected = admin.clients()
            self.say(
                f"clients     {', '.join(connected) or 'none'} connected "
                f"(of {', '.join(state.clients)})"
            )
            services = live_services(admin, state.federation)
            for info in services:
                self.say(
                    f"service     {info.job_id}: serving {', '.join(sorted(info.ready))}"
                    + (f"; lost {', '.join(info.dead)}" if info.dead else "")
                    + f"; {info.hello.get('running', 0)} DFM job(s) running"
                )
            if not services:
                self.say("service     none answers (`dfm poc start` submits it)")
            ok = bool(services) and set(state.clients) <= set(connected)
            self.say(f"status      {'ready' if ok else 'degraded'}")
            return ok
        finally:
            admin.close()

    def log_files(self) -> list[Path]:
        """The POC's log files: DFM's, and each participant's ``log.txt``."""
        state = self.ws.load()
        prod = self.ws.poc_dir / state.project / "prod_00"
        files = [self.ws.log_file]
        names = [state.server_site or "server", *state.clients]
        files += [prod / name / "log.txt" for name in names]
        return [f for f in files if f.is_file()]

    # -- stop --------------------------------------------------------------------------
    def stop(self, timeout: float = 30.0) -> None:
        """Stop everything ``start`` started; never leaves a process of it behind."""
        state = self.ws.load()
        if self.is_running(state):
            self._progress("stopping the POC (nvflare poc stop)")
            code, output = run_command(
                [*nvflare_cli(), "poc", "stop"],
                self.ws.nvflare_env(state),
                self.ws.log_file,
                timeout,
            )
            if code != 0:
                self._progress(f"`nvflare poc stop` failed (exit {code}); killing the processes")
        killed = kill_leftovers(str(self.ws.poc_dir), state.launcher_pgid)
        if killed:
            self._progress(f"ended {killed} leftover process(es)")
        state.launcher_pgid = None
        self.ws.save(state)
        self._clear_stale_markers(state)
        self._progress("stopped")
