"""Load a NetIR's generated module: in-process cache, then a file in the user's cache.

The module is named ``dfm_v<version>_netir_<fingerprint>`` and written to
``<cache>/dfm/modgen-cache/<version>/<federation>/<site>/<module>.py`` (``<cache>`` is
``$XDG_CACHE_HOME`` or ``~/.cache``), so tracebacks through generated code show real
lines and Python keeps its bytecode. The file is only reused if it holds exactly what
the generator produces now (generation is cheap and deterministic), so a stale or
damaged file is rewritten. Writes are atomic (temporary file, then rename), so
concurrent processes never read half a file. If the cache cannot be written, the module
is built from memory and the failure is logged.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import importlib.util
import linecache
import logging
import os
import sys
import tempfile
import threading
from importlib import metadata
from pathlib import Path
from types import ModuleType

from dfm.api import DecodePolicy
from dfm.irgen import NetIR

from ._generate import RUNTIME, generate_net_source

_logger = logging.getLogger("dfm.runtime.codegen")
_lock = threading.Lock()
_modules: dict[str, ModuleType] = {}


def _version_tag() -> str:
    try:
        version = metadata.version("dfm-runtime")
    except metadata.PackageNotFoundError:
        version = "0"
    return "".join(c if c.isalnum() else "_" for c in version)


VERSION_TAG = _version_tag()
"""The dfm-runtime version as used in module names and cache paths (``0.1.0`` → ``0_1_0``)."""


@functools.lru_cache(maxsize=64)
def _policy_tag(policy: DecodePolicy | None) -> str:
    # The literals are decoded under the site's policy: one module per (NetIR, policy).
    if policy is None or policy == DecodePolicy():
        return ""
    text = repr(sorted(dataclasses.asdict(policy).items()))
    return "_p" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def net_module_name(netir: NetIR, policy: DecodePolicy | None = None) -> str:
    """The module name of a NetIR's generated code under a decode policy."""
    return f"dfm_v{VERSION_TAG}_netir_{netir.fingerprint}{_policy_tag(policy)}"


def cache_root() -> Path:
    """``<$XDG_CACHE_HOME or ~/.cache>/dfm/modgen-cache/<version>``."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "dfm" / "modgen-cache" / VERSION_TAG


def _safe_part(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_.@" else "_" for c in text).lstrip(".") or "_"


def net_module_path(netir: NetIR, federation_name: str, policy: DecodePolicy | None = None) -> Path:
    """Where the generated module of a NetIR is cached on disk."""
    return (
        cache_root()
        / _safe_part(federation_name)
        / _safe_part(netir.site)
        / f"{net_module_name(netir, policy)}.py"
    )


def _write_atomic(path: Path, source: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(source)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    # Bytecode is validated by mtime and size, which a same-size rewrite within one
    # second would not change.
    with contextlib.suppress(OSError):
        os.unlink(importlib.util.cache_from_source(str(path)))


def _from_file(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"Cannot load the generated net module {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _from_source(name: str, source: str) -> ModuleType:
    filename = f"<dfm net module {name}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    module = ModuleType(name)
    module.__file__ = filename
    sys.modules[name] = module
    try:
        exec(compile(source, filename, "exec"), module.__dict__)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def load_net_module(
    netir: NetIR, federation_name: str, force: bool = False, policy: DecodePolicy | None = None
) -> ModuleType:
    """The generated net module of ``netir`` (it defines ``ThisNet``), cached.

    Looks in this process first (by fingerprint and policy), then in the disk cache;
    generates and writes the module when needed. ``force=True`` regenerates, rewrites
    and reimports.

    Args:
        netir: The site's net (checked first, see :func:`validate_netir`).
        federation_name: The federation (for the cache path).
        force: Regenerate even if cached.
        policy: The site's decode policy for the NetIR's literals (None: restrictive).

    Raises:
        NetIRRefused: A name in the NetIR breaks its rule.
        ValueError: The NetIR cannot be turned into code, or the policy refuses one of
            its literals.
    """
    name = net_module_name(netir, policy)
    with _lock:
        if not force:
            module = _modules.get(name)
            if module is not None:
                return module
        source = generate_net_source(netir, RUNTIME, policy)
        path = net_module_path(netir, federation_name, policy)
        on_disk = False
        try:
            if force or not path.is_file() or path.read_text(encoding="utf-8") != source:
                _write_atomic(path, source)
            on_disk = True
        except OSError as e:
            _logger.warning("Cannot write the net module cache %s (%s); using memory", path, e)
        if on_disk:
            sys.modules.pop(name, None)
            module = _from_file(name, path)
        else:
            module = _from_source(name, source)
        _modules[name] = module
        return module
