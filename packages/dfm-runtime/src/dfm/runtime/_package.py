"""What crosses a site boundary: the TokenPackage and the Router that carries it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dfm.api import DecodePolicy, ErrorToken, Frame, encode_value

from ._payload import decode_payload
from ._wire import envelope, envelope_parts, parse_envelope, read_envelope

_WIRE_KEYS = (
    "job_id",
    "source_site",
    "source_node",
    "target_site",
    "target_place",
    "is_yield",
    "frame",
    "payload",
    "trace_context",
)
_STOP = Frame.stop_frame()


@dataclass(slots=True)
class TokenPackage:
    """One token addressed to a place of another site, or (``is_yield``) to the application.

    The payload is already encoded (a tagged value, see :func:`dfm.runtime.encode_payload`),
    its binary data in ``frames``, so a package is plain data: routers move it as it is
    or as bytes (:meth:`to_wire`, the envelope every target sends).

    Attributes:
        job_id: The job the token belongs to.
        source_site: The sending site.
        source_node: The node id of the pipeline node whose value this is, if any.
        target_site: The receiving site (the homesite for yields).
        target_place: The receiving place (a yield place for yields).
        is_yield: Whether the token goes to the application rather than to a site's net.
        frame: The frame of the token.
        payload: The tagged value ``(tag, json)``.
        trace_context: Telemetry propagation headers, if any.
        frames: The payload's binary data (buffers), which travel next to the JSON
            header, never inside it.
    """

    job_id: str
    source_site: str
    source_node: int | str | None
    target_site: str
    target_place: str
    is_yield: bool
    frame: Frame
    payload: tuple[str, Any]
    trace_context: dict[str, str] | None = None
    frames: tuple[Any, ...] = ()

    def _header(self) -> list[Any]:
        frame = self.frame.frame
        return [
            self.job_id,
            self.source_site,
            self.source_node,
            self.target_site,
            self.target_place,
            self.is_yield,
            frame if frame == "stop" else list(frame),
            self.payload,
            self.trace_context,
        ]

    def to_wire(self) -> bytes:
        """This package as one envelope (see :mod:`dfm.runtime._wire` for the layout).

        Raises:
            ValueError: The header cannot be written as JSON.
        """
        return envelope(self._header(), self.frames)

    def to_wire_parts(self) -> list[Any]:
        """The envelope in pieces, without joining them: the frames are not copied.

        ``b"".join(package.to_wire_parts()) == package.to_wire()``; a transport may
        write the pieces one by one (``socket.sendmsg``) or into shared memory.

        Raises:
            ValueError: The header cannot be written as JSON.
        """
        return envelope_parts(self._header(), self.frames)

    @classmethod
    def from_wire(cls, data: bytes | bytearray | memoryview) -> TokenPackage:
        """Parse an envelope; the frames are memoryviews of ``data``, not copies.

        Raises:
            ValueError: The data is not a token package.
        """
        return cls._from_envelope(*parse_envelope(data))

    @classmethod
    def read_wire(cls, read_at: Callable[[int, int], Any], size: int) -> TokenPackage:
        """Read an envelope of ``size`` bytes that is not in memory (a file, shared memory).

        ``read_at(offset, length)`` returns those bytes (``os.pread`` on a descriptor):
        each frame is read once, straight into the object that becomes its value.

        Raises:
            ValueError: The data is not a token package.
        """
        return cls._from_envelope(*read_envelope(read_at, size))

    @classmethod
    def _from_envelope(cls, raw: Any, frames: tuple[Any, ...]) -> TokenPackage:
        if type(raw) is not list or len(raw) != len(_WIRE_KEYS):
            raise ValueError(
                f"Not a DFM token package: the header must be a list of {len(_WIRE_KEYS)} "
                f"fields ({', '.join(_WIRE_KEYS)}), not {type(raw).__name__} {raw!r:.80}"
            )
        job_id, source, node, target, place, is_yield, levels, payload, context = raw
        if not (type(job_id) is str and type(source) is str and type(target) is str):
            raise ValueError("Not a DFM token package: job_id and sites must be strings")
        if type(place) is not str:
            raise ValueError("Not a DFM token package: target_place must be a string")
        if type(is_yield) is not bool:
            raise ValueError("Not a DFM token package: is_yield must be a boolean")
        if not (node is None or type(node) in (int, str)):
            raise ValueError("Not a DFM token package: source_node must be an int, a str or null")
        if not (type(payload) is list and len(payload) == 2 and type(payload[0]) is str):
            raise ValueError(f"Not a DFM token package: bad payload {payload!r:.80}")
        if not (context is None or type(context) is dict):
            raise ValueError("Not a DFM token package: trace_context must be an object or null")
        if levels == "stop":
            frame = _STOP
        else:
            try:
                frame = Frame(levels)
            except (TypeError, ValueError) as e:
                raise ValueError(f"Not a DFM token package: bad frame {levels!r:.80}") from e
        return cls(
            job_id,
            source,
            node,
            target,
            place,
            is_yield,
            frame,
            (payload[0], payload[1]),
            context,
            frames,
        )

    def unwrap(self, policy: DecodePolicy) -> Any:
        """The decoded value.

        Raises:
            dfm.api.SerializationError: The payload cannot be decoded under ``policy``.
        """
        tag, body = self.payload
        if tag == "json":
            return body
        return decode_payload(self.payload, self.frames, policy)


class Router(ABC):
    """How a site's tokens leave it: the one thing a target must provide to the runtime.

    The runtime calls :meth:`route` for every token that is not for a place of the
    sending site (tokens to other sites, and every yield). Packages from one site to
    another must be delivered in the order they were routed: a stop token must not
    overtake the data sent before it.

    A minimal in-process router::

        class LocalRouter(Router):
            def __init__(self, runners, on_yield):
                self.runners, self.on_yield = runners, on_yield

            def route(self, package):
                if package.is_yield:
                    self.on_yield(package)
                else:
                    self.runners[package.target_site].deliver_package(package)
    """

    @abstractmethod
    def route(self, package: TokenPackage) -> None:
        """Deliver a package to another site of the job, or (is_yield) to the application.

        Called on the sending site's event-loop thread; must not block.
        """


def to_wire_or_error(package: TokenPackage) -> bytes:
    """The package's wire bytes; never raises.

    If the package cannot be serialized, the same package carrying the error as an
    ErrorToken is serialized instead.
    """
    try:
        return package.to_wire()
    except Exception as e:
        error = ErrorToken.from_exception(e, node_id=package.source_node, site=package.source_site)
        package.payload, package.frames = encode_value(error), ()
        return package.to_wire()
