"""AdminLink: the application's NVFLARE admin session (Flare API), and nothing else.

This is the only module that touches NVFLARE's admin API, including its one
undocumented part: the session's own cell (``Session.api.cell``), on which the service
pushes results to the application. Without that cell, results are polled
(:attr:`AdminLink.can_push` is False).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

_CELLNET_LOGGER = "nvflare.fuel.f3.cellnet"


@contextlib.contextmanager
def _quiet(name: str) -> Iterator[None]:
    """Only critical records of logger ``name`` (and its children) while inside."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


class FlareCommandError(RuntimeError):
    """NVFLARE refused or failed a command; the message says what to change."""


class NotRunningError(RuntimeError):
    """The NVFLARE federation (or the DFM service job) is not running."""


def authorization_hint(role: str) -> str:
    """Where to grant DFM's commands to an admin role."""
    return (
        "grant it in the server's startup kit: local/authorization.json, key "
        f'permissions.{role}.app_command (e.g. "app_command": "n:submitter"; copy '
        "authorization.json.default if the file does not exist), then restart the server; "
        "`dfm provision`/`dfm poc prepare` do this for you"
    )


ALLOW_LIST_HINT = (
    'every site needs "dfm.targets.flare." in local/resources.json, key class_allow_list '
    "(copy resources.json.default if the file does not exist); `dfm provision`/`dfm poc "
    "prepare` write it"
)


class AdminLink:
    """One Flare API session as the homesite's admin user.

    Args:
        user: The admin user (``<homesite>@<federation>.dfm`` for DFM's kits).
        kit: The admin's startup kit directory.
        logger: Where to log.
        role: The admin's role (named in authorization errors).
    """

    def __init__(self, user: str, kit: Path, logger: logging.Logger, role: str = "lead") -> None:
        """Not connected yet."""
        self.user = user
        self.kit = kit
        self.role = role
        self._log = logger
        self._session: Any = None
        self._lock = threading.Lock()

    def open(self, timeout: float = 10.0) -> None:
        """Log in (about 2 s).

        Raises:
            NotRunningError: The server does not answer within ``timeout``.
        """
        from nvflare.fuel.flare_api.flare_api import new_secure_session

        if not (self.kit / "startup" / "fed_admin.json").is_file():
            raise NotRunningError(f"{self.kit} is not an NVFLARE admin startup kit")
        try:
            # It prints "Connecting to FLARE", and its cell logs each failed attempt
            # ("no connection to server") while the server is not up: both are this
            # call's NotRunningError, said once.
            with contextlib.redirect_stdout(io.StringIO()), _quiet(_CELLNET_LOGGER):
                session = new_secure_session(self.user, str(self.kit), timeout=timeout)
        except Exception as e:
            raise NotRunningError(f"cannot log in to the NVFLARE server as {self.user}: {e}") from e
        session.set_timeout(60.0)  # the server's wait for an app command's answer
        self._session = session

    @property
    def is_open(self) -> bool:
        """Whether a session is open."""
        return self._session is not None

    def close(self) -> None:
        """Log out (idempotent)."""
        session, self._session = self._session, None
        if session is not None:
            try:
                session.close()
            except Exception:
                self._log.debug("Closing the Flare API session failed", exc_info=True)

    def _call(self, fn: Callable[[Any], Any]) -> Any:
        session = self._session
        if session is None:
            raise NotRunningError("the NVFLARE admin session is closed")
        with self._lock:
            return fn(session)

    # -- system ------------------------------------------------------------------------
    def clients(self) -> list[str]:
        """The names of the clients connected to the server."""
        infos = self._call(lambda s: s.get_connected_client_list())
        return sorted(str(getattr(i, "name", i)) for i in infos)

    def list_jobs(self, name_prefix: str) -> list[dict[str, Any]]:
        """Jobs whose name starts with ``name_prefix``, newest first."""
        jobs = self._call(lambda s: s.list_jobs(name_prefix=name_prefix))
        out = [dict(j) for j in jobs or []]
        out.sort(key=lambda j: str(j.get("submit_time", "")), reverse=True)
        return out

    def submit(self, folder: Path, token: str) -> str:
        """Submit a job folder; the NVFLARE job id.

        Raises:
            FlareCommandError: NVFLARE refused it (the message names what to change).
        """
        from nvflare.fuel.flare_api.api_spec import AuthorizationError

        try:
            return str(self._call(lambda s: s.submit_job(str(folder), submit_token=token)))
        except AuthorizationError as e:
            raise FlareCommandError(
                f"NVFLARE does not let {self.user} (role {self.role}) submit the DFM job: {e}; "
                "grant submit_job to the role in the server's local/authorization.json"
            ) from e

    def status(self, job_id: str) -> str:
        """The NVFLARE status of a job (e.g. ``RUNNING``, ``FINISHED:COMPLETED``)."""
        meta = self._call(lambda s: s.get_job_meta(job_id))
        return str((meta or {}).get("status", "UNKNOWN"))

    def abort(self, job_id: str) -> None:
        """Abort an NVFLARE job (errors are logged: it may have ended)."""
        try:
            self._call(lambda s: s.abort_job(job_id))
        except Exception as e:
            self._log.debug("abort_job(%s): %s", job_id, e)

    # -- DFM commands -------------------------------------------------------------------
    def command(self, job_id: str, topic: str, data: dict[str, Any]) -> dict[str, Any]:
        """An app command to a running DFM job; its answer.

        Raises:
            NotRunningError: The job is not running (or does not answer).
            FlareCommandError: The admin's role may not use app commands, or the service
                reported an error.
        """
        from nvflare.fuel.flare_api.api_spec import (
            AuthorizationError,
            InternalError,
            JobNotFound,
            JobNotRunning,
            NoReply,
        )

        try:
            reply = self._call(lambda s: s.do_app_command(job_id, topic, data))
        except AuthorizationError as e:
            raise FlareCommandError(
                f"NVFLARE refused DFM's command {topic} for {self.user} (role {self.role}): "
                f"{e}; {authorization_hint(self.role)}"
            ) from e
        except (JobNotRunning, JobNotFound, NoReply, InternalError) as e:
            raise NotRunningError(
                f"NVFLARE job {job_id} does not answer: {type(e).__name__}: {e}"
            ) from e
        if not isinstance(reply, dict):
            raise NotRunningError(f"NVFLARE job {job_id} gave no DFM answer to {topic}: {reply!r}")
        if "ok" not in reply:
            raise NotRunningError(f"NVFLARE job {job_id} is not a DFM service: {reply!r:.200}")
        return reply

    # -- push -------------------------------------------------------------------------
    @property
    def can_push(self) -> bool:
        """Whether the session has a cell the service can push to."""
        return self._cell() is not None

    def _cell(self) -> Any:
        api = getattr(self._session, "api", None)
        return getattr(api, "cell", None)

    @property
    def fqcn(self) -> str | None:
        """The session cell's name, or None without push."""
        cell = self._cell()
        return str(cell.get_fqcn()) if cell is not None else None

    def on_push(self, receive: Callable[[bytes], dict[str, int]]) -> None:
        """Call ``receive(batch)`` for every push; its result (acks) is the reply.

        Only the server's DFM service pushes: a push from any other cell (a client that
        could route to this one) is refused before its bytes are decoded.
        """
        from ._cellnet import SERVER_ROOT, serve_pushes

        cell = self._cell()
        if cell is None:
            return

        def handle(sender: str, payload: bytes) -> bytes:
            if sender != SERVER_ROOT:
                self._log.error("Refused a push from %r: only the server's service pushes", sender)
                raise PermissionError(f"a push from {sender!r}: only the server pushes")
            try:
                acks = receive(payload)
            except Exception:
                self._log.exception("A push from the DFM service failed")
                raise
            return json.dumps(acks).encode("utf-8")

        serve_pushes(cell, handle)
