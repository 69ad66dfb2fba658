"""TryFromCache on a site: look a key up in the site's cache storage, store on a miss.

The key's canonical JSON (sorted keys, no spaces) is hashed with SHA-256; the entry is
``<cache_storage>/dfm-block-cache/<federation>/<site>/<2 hex>/<sha256>.json`` holding
the key text and the value in tagged form (``encode_value``). ``Site.cache_storage()``
is the site's configured cache (a local directory, or an fsspec location), so entries
survive jobs and sessions, per federation and site. Reading and writing run in the
site's sync pool. A damaged or undecodable entry is a miss (and is overwritten); a
value that cannot be stored is still passed on (a warning says why it is not cached).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dfm.api import ErrorToken, Frame, SkipToken, decode_value, describe_node, encode_value
from dfm.irgen import canonical_json

from ._context import SKIP, error_token
from ._transition import TransitionState, send_error, send_plain, send_skip

if TYPE_CHECKING:
    from ._runner import NetRunner


class CacheHit:
    """The lookup found ``value`` (goes by reference to the write on the same site)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        """The cached value."""
        self.value = value


class CacheMiss:
    """The lookup found nothing for the key whose canonical JSON is ``key``."""

    __slots__ = ("digest", "key")

    def __init__(self, digest: str, key: str) -> None:
        """The key's digest and canonical JSON."""
        self.digest = digest
        self.key = key


_SMALL = 64 * 1024  # entries up to this size are read on the loop: a hit costs microseconds


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name) or "_"


_roots: dict[tuple[str, ...], Any] = {}


class SiteCache:
    """The entries of one site's block cache."""

    def __init__(self, site: Any, federation: str, site_name: str) -> None:
        """Entries under the site's ``cache_storage()``; the folder is made on first use."""
        self._site = site
        self._subpath = f"dfm-block-cache/{_safe(federation)}/{_safe(site_name)}"
        # The folder is looked up (and made) once per process and cache configuration,
        # not in every job: a hit must cost microseconds.
        config = repr(getattr(site, "cache_config", None))
        home = (os.environ.get("XDG_CACHE_HOME", ""), os.path.expanduser("~"))
        self._key = (federation, site_name, config, *home)
        self._root: Any = _roots.get(self._key)

    def _path(self, digest: str) -> Any:
        if self._root is None:
            self._root = _roots[self._key] = self._site.cache_storage(self._subpath)
        return self._root / digest[:2] / f"{digest}.json"

    def small_local_entry(self, digest: str) -> bool | None:
        """True: a small local entry (read it on the loop); None: none there; False: else."""
        path = self._path(digest)
        if not isinstance(path, Path):
            return False
        try:
            return path.stat().st_size <= _SMALL
        except FileNotFoundError:
            return None

    def read(self, digest: str, key: str) -> tuple[str, Any] | None:
        """The tagged value stored for the key, or None."""
        path = self._path(digest)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        entry = json.loads(text)
        if not isinstance(entry, dict) or entry.get("key") != key:
            raise ValueError(f"cache entry {path} does not hold this key")
        tagged = entry["value"]
        if not (isinstance(tagged, list) and len(tagged) == 2 and isinstance(tagged[0], str)):
            raise ValueError(f"cache entry {path} holds no tagged value")
        return (tagged[0], tagged[1])

    def write(self, digest: str, key: str, tagged: tuple[str, Any]) -> None:
        """Store a tagged value for the key (atomically on a local filesystem)."""
        path = self._path(digest)
        text = json.dumps({"key": key, "value": list(tagged)}, separators=(",", ":"))
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(path, Path):
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    f.write(text)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        else:
            path.write_text(text, encoding="utf-8")


def cache_key(key: Any) -> tuple[str, str]:
    """The canonical JSON of a key and its SHA-256 (hex).

    Raises:
        ValueError: The key is not a JSON value.
    """
    text = canonical_json(key)
    return hashlib.sha256(text.encode("utf-8")).hexdigest(), text


class CacheBlock:
    """Runs a cache lookup or a cache write transition."""

    def __init__(self, runner: NetRunner, state: TransitionState, cache: SiteCache) -> None:
        """Bind to the transition and the site's cache."""
        assert state.spec.block is not None
        self.runner = runner
        self.state = state
        self.spec = state.spec
        self.block = state.spec.block
        self.cache = cache

    async def _io(self, fn: Any, *args: Any) -> Any:
        call = functools.partial(contextvars.copy_context().run, fn, *args)
        return await asyncio.get_running_loop().run_in_executor(self.runner.executor, call)

    # -- lookup ----------------------------------------------------------------------
    def ready_lookup(self, frame: Frame, values: Sequence[Any]) -> bool:
        """Look the key up now if its entry is local and small; True: do it in a task."""
        key = self._key(frame, values)
        if key is None:
            return False
        digest, text = key
        try:
            small = self.cache.small_local_entry(digest)
        except Exception:
            small = False  # the async path reports it
        if small is False:
            return True
        hit = self._hit(text, lambda: self.cache.read(digest, text) if small else None)
        self._outcome(frame, values, hit, digest, text)
        return False

    async def lookup(self, frame: Frame, values: Sequence[Any]) -> None:
        """Look the key up in the sync pool (large or remote entries)."""
        key = self._key(frame, values)
        if key is None:
            return
        digest, text = key
        try:
            tagged = await self._io(self.cache.read, digest, text)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self._unusable(text, e)
            tagged = None
        hit = self._hit(text, lambda: tagged)
        self._outcome(frame, values, hit, digest, text)

    def _key(self, frame: Frame, values: Sequence[Any]) -> tuple[str, str] | None:
        ctx, spec = self.runner.ctx, self.spec
        key = values[self.block.key] if self.block.key >= 0 else self.block.key_value
        try:
            return cache_key(key)
        except ValueError as e:
            send_error(
                ctx,
                spec,
                frame,
                error_token(
                    "ValueError",
                    f"{describe_node('TryFromCache', spec.node_id)}: the key is not a JSON value "
                    f"({e}); make the key a str, number, bool, None, or lists and str-keyed "
                    "dicts of them",
                    None,
                    spec.node_id,
                    ctx.this_site,
                    "TryFromCache",
                ),
            )
            return None

    def _unusable(self, text: str, error: Exception) -> None:
        ctx = self.runner.ctx
        ctx.logger.warning(
            "%s on site %s: cannot use the cache entry for key %s (%s); treating it as a miss",
            describe_node("TryFromCache", self.spec.node_id),
            ctx.this_site,
            text[:80],
            error,
        )

    def _hit(self, text: str, read: Any) -> CacheHit | None:
        try:
            tagged = read()
            if tagged is None:
                return None
            return CacheHit(decode_value(tagged, self.runner.ctx.decode_policy))
        except Exception as e:
            self._unusable(text, e)
            return None

    def _outcome(
        self, frame: Frame, values: Sequence[Any], hit: CacheHit | None, digest: str, text: str
    ) -> None:
        ctx, spec = self.runner.ctx, self.spec
        if hit is None:
            send_plain(ctx, spec, frame, values, CacheMiss(digest, text))
            return
        send = ctx.send
        for s in spec.sends:
            if s.result:
                send(s.site, s.place, frame, hit, node_id=s.node_id)
            elif not s.is_yield:
                send(s.site, s.place, frame, SKIP, node_id=s.node_id)

    # -- write -----------------------------------------------------------------------
    def ready(self, frame: Frame, values: Sequence[Any]) -> bool:
        """Handle a write that needs no storage; True when it must store (async)."""
        ctx, spec = self.runner.ctx, self.spec
        outcome = values[self.block.lookup]
        kind = type(outcome)
        if kind is ErrorToken:
            send_error(ctx, spec, frame, outcome)
        elif kind is SkipToken:
            send_skip(ctx, spec, frame)
        elif kind is CacheHit:
            send_plain(ctx, spec, frame, values, outcome.value)
        elif kind is not CacheMiss:
            send_error(
                ctx,
                spec,
                frame,
                error_token(
                    "TypeError",
                    f"{describe_node('TryFromCache', spec.node_id)}: its write received "
                    f"{kind.__name__} instead of the lookup's outcome (the lookup must run on "
                    "the same site)",
                    None,
                    spec.node_id,
                    ctx.this_site,
                    "TryFromCache",
                ),
            )
        else:
            value = self._value(values)
            if type(value) is ErrorToken:
                send_error(ctx, spec, frame, value)
            elif type(value) is SkipToken:
                send_skip(ctx, spec, frame)
            else:
                return True
        return False

    def _value(self, values: Sequence[Any]) -> Any:
        return values[self.block.value] if self.block.value >= 0 else self.block.literal

    async def store(self, frame: Frame, values: Sequence[Any]) -> None:
        """A miss: store the value under the key, then send it on."""
        ctx, spec = self.runner.ctx, self.spec
        miss = values[self.block.lookup]
        value = self._value(values)
        try:
            tagged = encode_value(value)
            await self._io(self.cache.write, miss.digest, miss.key, tagged)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            ctx.logger.warning(
                "TryFromCache %s on site %s: the value for key %s is not cached: %s",
                spec.node_id,
                ctx.this_site,
                miss.key[:80],
                e,
            )
        send_plain(ctx, spec, frame, values, value)
