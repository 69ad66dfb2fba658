"""The channel between the application and a site process, and how big packages cross it.

Messages are pickled tuples over a socket pair (``multiprocessing.connection``: both
ends are this target, one trust domain). A package travels as its envelope
(``TokenPackage.to_wire``); an envelope of 1 MiB or more does not go through the
socket: it is written once into an anonymous shared-memory file (``memfd``, Linux) and
its descriptor is passed along (``SCM_RIGHTS``), through the application to the site
that receives it, which reads each frame straight into the object that becomes its
value (``os.pread``) and closes the file. Nothing is named, so nothing can leak: the
memory is freed when the last descriptor is closed, even if a process dies.

A package without binary data whose value is a scalar (every status token, most
yields) crosses as the plain tuple of its fields instead (:func:`pack`): the channel
pickles messages anyway, and the JSON header of an envelope would be written on one
side and parsed on the other for nothing (about 4 µs each way per package). Its value
is still decoded under the receiver's policy.
"""

from __future__ import annotations

import os
import socket
import threading
from multiprocessing import reduction
from multiprocessing.connection import Connection
from typing import Any, NamedTuple

from dfm.runtime import TokenPackage, to_wire_or_error
from dfm.runtime._wire import envelope_size

from ._fields import PackageFields, fields_of, package_of

SHARE_AT = 1 << 20
"""Envelopes of at least this many bytes cross in shared memory."""

_MEMFD = hasattr(os, "memfd_create")
# Messages whose item (or items) may be a SharedEnvelope: child → parent and back.
_ITEM_AT = {"pkg": 2, "yield": 2}


class SharedEnvelope:
    """An envelope in an anonymous shared-memory file, owned through its descriptor.

    Args:
        fd: The file's descriptor (this object closes it).
        size: The envelope's length.
    """

    __slots__ = ("fd", "size")

    def __init__(self, fd: int, size: int) -> None:
        """Take ownership of ``fd``."""
        self.fd, self.size = fd, size

    @classmethod
    def write(cls, parts: list[Any], size: int) -> SharedEnvelope:
        """Write an envelope (its parts, see ``TokenPackage.to_wire_parts``) into a new file.

        Raises:
            OSError: No shared memory (e.g. not enough of it).
        """
        fd = os.memfd_create("dfm-package", os.MFD_CLOEXEC)
        try:
            views = [memoryview(p) for p in parts]
            written = 0
            while views:
                n = os.writev(fd, views[:512])
                written += n
                while views and n >= views[0].nbytes:
                    n -= views[0].nbytes
                    views.pop(0)
                if n:
                    views[0] = views[0][n:]
            if written != size:
                raise OSError(f"wrote {written} of {size} bytes of a package")
        except BaseException:
            os.close(fd)
            raise
        return cls(fd, size)

    def read(self) -> TokenPackage:
        """The package; each frame is read into its own object. Closes the file.

        Raises:
            ValueError: The file holds no token package.
            OSError: The file cannot be read.
        """
        fd = self.fd
        try:
            return TokenPackage.read_wire(lambda offset, n: _read_exactly(fd, n, offset), self.size)
        finally:
            self.close()

    def close(self) -> None:
        """Close the descriptor (the memory goes with the last one)."""
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)

    def __del__(self) -> None:
        """A dropped envelope frees its memory."""
        self.close()


def _read_exactly(fd: int, n: int, offset: int) -> bytes:
    data = os.pread(fd, n, offset)
    if len(data) == n:
        return data
    chunks = [data]
    got = len(data)
    while got < n:
        more = os.pread(fd, n - got, offset + got)
        if not more:
            raise ValueError("Not a DFM token package: the shared file is shorter than it says")
        chunks.append(more)
        got += len(more)
    return b"".join(chunks)


def pack(package: TokenPackage) -> PackageFields | bytes | SharedEnvelope:
    """A package as it crosses to another process: its fields, or its envelope.

    Fields if it has a scalar value and no binary data, else its envelope (big ones
    shared).
    """
    if not package.frames:
        fields = fields_of(package)
        if fields is not None:
            return fields
        return to_wire_or_error(package)
    try:
        parts = package.to_wire_parts()
    except Exception:
        return to_wire_or_error(package)  # the error instead, as a package
    size = envelope_size(parts)
    if size >= SHARE_AT and _MEMFD:
        try:
            return SharedEnvelope.write(parts, size)
        except OSError:
            pass  # no shared memory left: through the socket
    return b"".join(parts)


def unpack(item: Any) -> Any:
    """A received item as a package if it was shared or sent as fields, else wire bytes."""
    if type(item) is tuple:
        return package_of(item)
    return item.read() if isinstance(item, SharedEnvelope) else item


class _Shared(NamedTuple):
    """Stands for a SharedEnvelope in a pickled message; its descriptor follows."""

    size: int


class Channel:
    """Pickled messages over a socket, SharedEnvelopes passed as descriptors.

    ``send`` may be called from any thread; ``recv`` from one thread only.

    Args:
        sock: The socket (the channel owns it).
    """

    def __init__(self, sock: socket.socket) -> None:
        """Wrap the socket."""
        self._sock = sock
        self._conn = Connection(os.dup(sock.fileno()))
        self._lock = threading.Lock()
        # Not the send lock: a send blocked on a full socket must not hold up close().
        self._close_lock = threading.Lock()
        self._closed = False

    def send(self, message: tuple[Any, ...]) -> None:
        """Send a message; its SharedEnvelopes are passed (then closed here).

        Raises:
            OSError: The other end is gone.
        """
        shared: list[SharedEnvelope] = []
        stripped = _strip(message, shared)
        try:
            with self._lock:
                self._conn.send(stripped)
                for envelope in shared:
                    reduction.sendfds(self._sock, [envelope.fd])
        finally:
            for envelope in shared:
                envelope.close()

    def recv(self) -> Any:
        """The next message, with its SharedEnvelopes.

        Raises:
            EOFError: The other end closed the channel.
            OSError: The channel broke.
        """
        message = self._conn.recv()
        return _attach(message, self._sock)

    def close(self) -> None:
        """Close both descriptors (again, or from another thread at once: nothing).

        The reader thread and ``SiteProcess.close`` both close the channel; two
        concurrent ``Connection.close`` calls would close one descriptor twice (EBADF).
        """
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        self._conn.close()
        self._sock.close()


def _strip_item(item: Any, shared: list[SharedEnvelope]) -> Any:
    if isinstance(item, SharedEnvelope):
        shared.append(item)
        return _Shared(item.size)
    return item


def _strip(message: tuple[Any, ...], shared: list[SharedEnvelope]) -> tuple[Any, ...]:
    kind = message[0]
    if kind == "batch":
        return ("batch", [_strip(m, shared) for m in message[1]])
    if kind == "pkgs":
        return ("pkgs", [_strip_item(item, shared) for item in message[1]])
    at = _ITEM_AT.get(kind)
    if at is not None and isinstance(message[at], SharedEnvelope):
        return (*message[:at], _strip_item(message[at], shared), *message[at + 1 :])
    return message


def _attach_item(item: Any, sock: socket.socket) -> Any:
    if isinstance(item, _Shared):
        [fd] = reduction.recvfds(sock, 1)
        return SharedEnvelope(fd, item.size)
    return item


def _attach(message: Any, sock: socket.socket) -> Any:
    kind = message[0]
    if kind == "batch":
        return ("batch", [_attach(m, sock) for m in message[1]])
    if kind == "pkgs":
        return ("pkgs", [_attach_item(item, sock) for item in message[1]])
    at = _ITEM_AT.get(kind)
    if at is not None and isinstance(message[at], _Shared):
        return (*message[:at], _attach_item(message[at], sock), *message[at + 1 :])
    return message
