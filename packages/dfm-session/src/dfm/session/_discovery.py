"""Finding targets: entry points of the group ``dfm.targets``, listed without loading."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from ._target import TARGET_API_VERSION, Target

GROUP = "dfm.targets"


class TargetNotFoundError(LookupError):
    """No installed distribution registers the asked target name."""


class TargetLoadError(ImportError):
    """A target is registered but cannot be used (import failure, duplicate, bad API)."""


@dataclass(frozen=True)
class TargetEntry:
    """A registered target, as found without importing it.

    Attributes:
        name: The entry-point name (what users pass as ``target=``).
        value: The object reference, e.g. ``dfm.targets.local:LocalTarget``.
        distribution: The distribution that registers it.
        version: That distribution's version.
    """

    name: str
    value: str
    distribution: str
    version: str
    entry_point: Any = field(default=None, compare=False, repr=False)

    def describe(self) -> str:
        """``name (distribution version)``."""
        return f"{self.name} ({self.distribution} {self.version})"


def _entry_points() -> Iterable[Any]:
    """The raw entry points of the group (tests replace this)."""
    return metadata.entry_points(group=GROUP)


@functools.cache
def _scan() -> tuple[tuple[TargetEntry, ...], ...]:
    found: dict[str, list[TargetEntry]] = {}
    for ep in _entry_points():
        dist = getattr(ep, "dist", None)
        entry = TargetEntry(
            name=ep.name,
            value=ep.value,
            distribution=dist.name if dist is not None else "<unknown distribution>",
            version=dist.version if dist is not None else "?",
            entry_point=ep,
        )
        same = found.setdefault(entry.name, [])
        # One distribution can be seen twice (e.g. two path entries): that is one target.
        if all(e.distribution != entry.distribution or e.value != entry.value for e in same):
            same.append(entry)
    return tuple(tuple(entries) for _, entries in sorted(found.items()))


def clear_target_cache() -> None:
    """Forget the cached scan (after installing a target in a running process)."""
    _scan.cache_clear()


def installed_targets() -> list[TargetEntry]:
    """Every registered target, sorted by name; duplicated names appear once per claim."""
    return [entry for entries in _scan() for entry in entries]


def find_target(name: str) -> TargetEntry:
    """The entry registered under ``name``, without importing it.

    Raises:
        TargetNotFoundError: Nothing registers ``name``; the message lists the installed
            targets and the distribution to install.
        TargetLoadError: Two distributions register ``name``.
    """
    for entries in _scan():
        if entries[0].name != name:
            continue
        if len(entries) > 1:
            claims = " and ".join(f"{e.distribution} {e.version} ({e.value})" for e in entries)
            raise TargetLoadError(
                f"Target {name!r} is registered by more than one distribution: {claims}; "
                f"uninstall all but one"
            )
        return entries[0]
    installed = ", ".join(e.describe() for e in installed_targets()) or "none"
    raise TargetNotFoundError(
        f"No DFM target named {name!r} is installed (installed targets: {installed}). "
        f"Install the distribution that provides it, e.g. `pip install dfm-target-{name}`"
    )


def load_target(name: str) -> type[Target]:
    """Import the target registered under ``name`` (and only that one).

    Raises:
        TargetNotFoundError: See :func:`find_target`.
        TargetLoadError: Duplicate registration, import failure (chained), not a
            Target class, or a different target API version.
    """
    entry = find_target(name)
    where = f"{entry.value!r} from distribution {entry.distribution} {entry.version}"
    try:
        loaded = entry.entry_point.load()
    except Exception as e:
        raise TargetLoadError(f"Cannot load target {name!r}: {where}: {e}") from e
    if not (isinstance(loaded, type) and issubclass(loaded, Target)):
        raise TargetLoadError(f"Target {name!r} ({where}) is not a dfm.session.Target subclass")
    version = getattr(loaded, "target_api_version", None)
    if version != TARGET_API_VERSION:
        raise TargetLoadError(
            f"Target {name!r} ({where}) implements target API version {version}, but this "
            f"dfm-session implements version {TARGET_API_VERSION}; install a version of "
            f"{entry.distribution} made for this dfm-session"
        )
    return loaded


def default_target_name() -> str:
    """The target a session uses when neither ``target=`` nor ``DFM_TARGET`` names one.

    Every installed target class is loaded (target modules are cheap to import) and the
    one with the highest :attr:`Target.default_priority` wins. Targets that cannot be
    loaded are left out.

    Raises:
        TargetNotFoundError: No target is installed, or none can be loaded.
        TargetLoadError: Several targets share the highest priority; the message says
            how to choose one.
    """
    ranked: list[tuple[int, str]] = []
    failures: list[str] = []
    for entries in _scan():
        name = entries[0].name
        try:
            ranked.append((load_target(name).default_priority, name))
        except (TargetLoadError, TargetNotFoundError) as e:
            failures.append(str(e))
    if not ranked:
        why = f" ({'; '.join(failures)})" if failures else ""
        raise TargetNotFoundError(
            "No DFM target is installed that can be used"
            f"{why}; install a target distribution (see the DFM docs, 'Targets'), or "
            "name one with Session(target=...) or DFM_TARGET"
        )
    best = max(priority for priority, _ in ranked)
    tied = sorted(name for priority, name in ranked if priority == best)
    if len(tied) > 1:
        raise TargetLoadError(
            f"Several installed targets ask to be the default ({', '.join(tied)}); choose "
            "one with Session(target=...) or the DFM_TARGET environment variable"
        )
    return tied[0]
