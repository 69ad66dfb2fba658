"""Callbacks: what the application receives, and the runner interface that calls them."""

from __future__ import annotations

import inspect
import logging
import threading
import types
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine, Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal, NamedTuple, Protocol, TypeAlias, cast

from dfm.api import TRUSTED, DecodePolicy, Frame, StopToken, encode_value

from ._logging import LOGGER_NAME

DfmDataCallbackSync: TypeAlias = Callable[[str, int | str | None, Frame, str, Any], None]
"""A callback ``cb(from_site, node_id, frame, place, data)``."""
DfmDataCallbackAsync: TypeAlias = Callable[
    [str, int | str | None, Frame, str, Any], Coroutine[Any, Any, None]
]
"""The same signature as a coroutine function."""
DfmDataCallback: TypeAlias = DfmDataCallbackSync | DfmDataCallbackAsync
"""A sync or async data callback."""
CallbacksKind: TypeAlias = Literal["sync", "async", "none"]

_LOG = logging.getLogger(LOGGER_NAME)
_STOP = StopToken()
_STOP_BODY = encode_value(_STOP)[1]
_MAX_RECORDED_ERRORS = 1000
_MAX_LOGGED_ERRORS = 20


class PackageLike(Protocol):
    """What a routed token package offers (``dfm.runtime.TokenPackage`` fits)."""

    source_site: str
    source_node: int | str | None
    target_place: str
    frame: Frame

    def unwrap(self, policy: DecodePolicy) -> Any:
        """Decode the payload."""


class Delivery(NamedTuple):
    """One token for the application: the five arguments of a callback.

    Attributes:
        from_site: The site that emitted the token.
        node_id: The pipeline node whose value this is; None for status tokens.
        frame: ``[i]`` for the i-th parameter set (deeper inside loops), or stop.
        place: The application place: ``yield``, a custom yield place, ``_dfm_status_``.
        data: The decoded value: a result, an ``ErrorToken`` or a ``StopToken``.
    """

    from_site: str
    node_id: int | str | None
    frame: Frame
    place: str
    data: Any

    @classmethod
    def from_package(cls, package: PackageLike, policy: DecodePolicy = TRUSTED) -> Delivery:
        """Decode a routed package; a payload that cannot be decoded becomes an ErrorToken."""
        payload = getattr(package, "payload", None)
        if payload is not None and payload[0] == "model" and payload[1] == _STOP_BODY:
            # One StopToken per frame: skip the model lookup and validation.
            return cls(
                package.source_site, package.source_node, package.frame, package.target_place, _STOP
            )
        try:
            data = package.unwrap(policy)
        except Exception as e:
            from dfm.api import ErrorToken

            data = ErrorToken.from_exception(e, node_id=package.source_node)
        return cls(
            package.source_site, package.source_node, package.frame, package.target_place, data
        )


def _is_async(callback: object) -> bool:
    if inspect.iscoroutinefunction(callback):
        return True
    call = getattr(callback, "__call__", None)  # noqa: B004 - objects with async __call__
    return call is not None and inspect.iscoroutinefunction(call)


def callbacks_kind(
    default_callback: DfmDataCallback | None,
    place_callbacks: Mapping[str, DfmDataCallback] | None,
) -> CallbacksKind:
    """Classify a set of callbacks as all ``"sync"``, all ``"async"``, or ``"none"``.

    Raises:
        ValueError: Sync and async callbacks are mixed.
    """
    callbacks = [default_callback] if default_callback is not None else []
    callbacks += list((place_callbacks or {}).values())
    if not callbacks:
        return "none"
    kinds = {_is_async(cb) for cb in callbacks}
    if len(kinds) > 1:
        raise ValueError(
            "Callbacks mix sync and async functions; make them all sync (def) or all async "
            "(async def)"
        )
    return "async" if kinds.pop() else "sync"


ErrorHandler: TypeAlias = Callable[[BaseException, Delivery], None]


def _tokens(tokens: Delivery | Iterable[Delivery] | None) -> Iterable[Delivery]:
    if tokens is None:
        return ()
    if isinstance(tokens, Delivery):
        return (tokens,)
    return tokens


def _log_error(error: BaseException, token: Delivery) -> None:
    _LOG.warning(
        "Error in callback for place %r, frame %s, from site %s",
        token.place,
        token.frame,
        token.from_site,
        exc_info=error,
    )


def _routed(
    default_callback: DfmDataCallback | None,
    place_callbacks: Mapping[str, DfmDataCallback] | None,
    tokens: Delivery | Iterable[Delivery] | None,
    stopped: Callable[[], bool] | None = None,
) -> Iterator[tuple[DfmDataCallback, Delivery]]:
    """Each token with its callback (its place's, else the default), in order.

    The one place that decides who hears a token: tokens with no callback are dropped,
    and nothing is yielded once ``stopped()`` is true.
    """
    places = place_callbacks or {}
    for token in _tokens(tokens):
        if stopped is not None and stopped():
            return
        callback = places.get(token.place, default_callback)
        if callback is not None:
            yield callback, token


def call_callbacks(
    default_callback: DfmDataCallbackSync | None,
    place_callbacks: Mapping[str, DfmDataCallbackSync] | None,
    tokens: Delivery | Iterable[Delivery] | None,
    on_error: ErrorHandler | None = None,
    stopped: Callable[[], bool] | None = None,
) -> None:
    """Call the callback of each token, in order: its place's callback, else the default.

    Tokens with neither are dropped. An exception in a callback is passed to
    ``on_error`` (default: logged with its traceback) and the next token is delivered.
    With ``stopped``, delivery ends as soon as it returns true.
    """
    handle = on_error or _log_error
    for callback, token in _routed(default_callback, place_callbacks, tokens, stopped):
        try:
            callback(*token)
        except Exception as e:
            handle(e, token)


async def call_callbacks_async(
    default_callback: DfmDataCallbackAsync | None,
    place_callbacks: Mapping[str, DfmDataCallbackAsync] | None,
    tokens: Delivery | Iterable[Delivery] | None,
    on_error: ErrorHandler | None = None,
    stopped: Callable[[], bool] | None = None,
) -> None:
    """Await the callback of each token in order; see :func:`call_callbacks`."""
    handle = on_error or _log_error
    for callback, token in _routed(default_callback, place_callbacks, tokens, stopped):
        try:
            await cast(DfmDataCallbackAsync, callback)(*token)
        except Exception as e:
            handle(e, token)


_PROBE = ("site", 0, Frame.start_frame(0), "yield", None)


def check_callback_signature(callback: object, what: str) -> None:
    """Refuse a callback that cannot take the five arguments DFM passes.

    Args:
        callback: The callback.
        what: How to name it in the error, e.g. ``"default_callback"``.

    Raises:
        TypeError: ``callback`` is not callable, or its signature cannot bind
            ``(from_site, node_id, frame, place, data)``.
    """
    if not callable(callback):
        raise TypeError(f"{what} must be callable, not {type(callback).__name__}")
    accepted = _accepted_for(callback)
    if accepted is not None and _function_of(callback) in accepted:
        return
    try:
        signature = inspect.signature(callback)
    except (TypeError, ValueError):  # some builtins have no signature: trust them
        return
    try:
        signature.bind(*_PROBE)
    except TypeError as e:
        name = getattr(callback, "__qualname__", None) or repr(callback)
        raise TypeError(
            f"{what} {name}{signature} cannot be called as "
            f"callback(from_site, node_id, frame, place, data): {e}"
        ) from None
    if accepted is not None:
        accepted.add(_function_of(callback))


# Functions (and the functions of bound methods) whose signature was accepted: the check
# costs ~50 µs (inspect.signature), as much as a tenth of a warm job, and applications
# pass the same callback to every execute. Weak: a lambda made per job is not kept.
_ACCEPTED_FUNCTIONS: weakref.WeakSet[Any] = weakref.WeakSet()
_ACCEPTED_METHODS: weakref.WeakSet[Any] = weakref.WeakSet()


def _accepted_for(callback: object) -> weakref.WeakSet[Any] | None:
    """The cache that can answer for ``callback``; None for other callables (checked)."""
    if type(callback) is types.FunctionType:
        return _ACCEPTED_FUNCTIONS
    if type(callback) is types.MethodType and type(callback.__func__) is types.FunctionType:
        return _ACCEPTED_METHODS
    return None


def _function_of(callback: Any) -> Any:
    return callback.__func__ if type(callback) is types.MethodType else callback


class CallbackRunner(ABC):
    """Delivers one job's tokens to its callbacks; made by a :class:`CallbackDispatcher`.

    A job's delivery thread calls :meth:`dispatch` with tokens in arrival order. Where
    and when the callbacks run is the runner's business (inline, on another thread, on
    an event loop, or when the application asks). Exceptions raised by callbacks are
    logged with their traceback, recorded in :attr:`errors`, and delivery continues.

    Args:
        default_callback: Called for tokens of places without their own callback.
        place_callbacks: Callbacks by application place name.
    """

    def __init__(
        self,
        default_callback: DfmDataCallback | None,
        place_callbacks: Mapping[str, DfmDataCallback] | None,
    ) -> None:
        """Classify and keep the callbacks (raises ValueError if sync and async mix)."""
        if default_callback is not None:
            check_callback_signature(default_callback, "default_callback")
        for place, callback in (place_callbacks or {}).items():
            check_callback_signature(callback, f"place_callbacks[{place!r}]")
        self.kind: CallbacksKind = callbacks_kind(default_callback, place_callbacks)
        self.default_callback = default_callback
        self.place_callbacks: dict[str, DfmDataCallback] = dict(place_callbacks or {})
        self._errors: list[BaseException] = []
        self._failures: list[str] = []
        self._error_count = 0
        self._errors_lock = threading.Lock()
        self.stopped = False

    @property
    def errors(self) -> list[BaseException]:
        """Exceptions raised by the callbacks so far (the first 1,000)."""
        with self._errors_lock:
            return list(self._errors)

    @property
    def failures(self) -> list[str]:
        """The callback errors so far, each described with its token (the first 1,000)."""
        with self._errors_lock:
            return list(self._failures)

    def report_error(self, error: BaseException, token: Delivery) -> None:
        """Log a callback's exception with its traceback and record it."""
        callback = self.place_callbacks.get(token.place, self.default_callback)
        name = getattr(callback, "__qualname__", None) or repr(callback)
        failure = (
            f"callback {name} raised {type(error).__name__}: {error} (place {token.place!r}, "
            f"frame {token.frame}, from site {token.from_site})"
        )
        with self._errors_lock:
            self._error_count += 1
            count = self._error_count
            if len(self._errors) < _MAX_RECORDED_ERRORS:
                self._errors.append(error)
                self._failures.append(failure)
        if count <= _MAX_LOGGED_ERRORS:
            _log_error(error, token)
        if count == _MAX_LOGGED_ERRORS:
            _LOG.warning("Further callback errors of this job are recorded but not logged")

    @abstractmethod
    def dispatch(self, tokens: Sequence[Delivery]) -> None:
        """Hand tokens (in arrival order) to the callbacks; must not raise."""

    def start(self) -> None:  # noqa: B027 - optional hook
        """Called when the runner is attached to a job, before its first dispatch."""

    def stop(self) -> None:
        """The job ended at once (cancelled, timed out, lost a site): no more callbacks.

        Callbacks already running finish; tokens not yet delivered are dropped.
        Subclasses that override this must call ``super().stop()``.
        """
        self.stopped = True

    def close(self) -> None:  # noqa: B027 - optional hook
        """No more tokens will be dispatched (the job ended, or this runner was detached).

        Release what the runner holds. A :class:`JobStream` calls it once, where no
        dispatch is running (normally on the job's delivery thread); it must not raise.
        """

    def _is_stopped(self) -> bool:
        return self.stopped

    def call_sync(self, tokens: Iterable[Delivery]) -> None:
        """Call each token's sync callback in order, until the runner is stopped."""
        call_callbacks(
            cast(DfmDataCallbackSync | None, self.default_callback),
            cast(Mapping[str, DfmDataCallbackSync], self.place_callbacks),
            tokens,
            self.report_error,
            self._is_stopped,
        )

    async def call_async(self, tokens: Iterable[Delivery]) -> None:
        """Await each token's async callback in order, until the runner is stopped."""
        await call_callbacks_async(
            cast(DfmDataCallbackAsync | None, self.default_callback),
            cast(Mapping[str, DfmDataCallbackAsync], self.place_callbacks),
            tokens,
            self.report_error,
            self._is_stopped,
        )

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until every dispatched token's callback has run, where that can be waited for.

        Returns:
            False if the timeout passed first.
        """
        return True


class CallbackDispatcher(ABC):
    """Makes a :class:`CallbackRunner` per job; shared by every job of a session."""

    @abstractmethod
    def create_runner(
        self,
        default_callback: DfmDataCallback | None,
        place_callbacks: Mapping[str, DfmDataCallback] | None,
    ) -> CallbackRunner:
        """A runner for one job's callbacks.

        Raises:
            ValueError: The callbacks mix sync and async, or their kind is not supported
                by this dispatcher.
        """
