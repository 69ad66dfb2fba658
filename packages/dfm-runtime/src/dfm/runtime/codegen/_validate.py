"""A site checks every name in a NetIR it receives before it generates code from it.

A NetIR is data from elsewhere. The generator writes names into Python source only as
identifiers it has checked or through ``repr()``; this module is the first line: every
string in the NetIR must match the grammar of its field (identifiers for places,
transitions and statement ids, dotted paths for operations, ...), checked by walking
the model, so fields added later are checked too (as plain text, if they have no rule
of their own). A NetIR that breaks a rule is refused with :class:`NetIRRefused`,
naming the field (``transitions[2].sends[0].place``), the value and the rule.
"""

from __future__ import annotations

import keyword
import math
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from pydantic import BaseModel

from dfm.irgen import NetIR

_MAX_NAME = 200
_MAX_TEXT = 1000
_MAX_NODE_INT = 2**63
_HEX64 = re.compile(r"[0-9a-f]{64}")
_VERSION = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}")
_HOST_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
_TAGS = frozenset({"json", "pyjson", "model", "bytes", "pickle", "stop", "flow"})


class NetIRRefused(ValueError):
    """A NetIR breaks a rule of the site receiving it; nothing was generated or run.

    Attributes:
        site: The site that refused it.
        field: Where in the NetIR (``transitions[0].name``).
        problem: What is wrong, with the rule.
    """

    def __init__(self, site: str, field: str, problem: str) -> None:
        """Build the message: site, field, problem."""
        super().__init__(f"Site {site!r} refuses the NetIR: {field}: {problem}")
        self.site = site
        self.field = field
        self.problem = problem


class _Bad(Exception):
    """A rule broken by one value (the walker adds the field path)."""


def _is_identifier(text: str) -> bool:
    # NFKC: Python normalizes identifiers in source, so a name that changes under it would
    # mean something else in the generated code than in the NetIR.
    return (
        0 < len(text) <= _MAX_NAME
        and text.isidentifier()
        and unicodedata.normalize("NFKC", text) == text
    )


def _identifier(value: Any) -> None:
    if not (isinstance(value, str) and _is_identifier(value)):
        raise _Bad(
            f"{value!r:.120} is not a valid name (a Python identifier: letters, digits and "
            f"underscores, not starting with a digit, at most {_MAX_NAME} characters)"
        )


def _attribute(value: Any) -> None:
    _identifier(value)
    if keyword.iskeyword(value):
        raise _Bad(f"{value!r} is a Python keyword, not a valid attribute name")


def _optional(rule: Callable[[Any], None]) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        if value is not None:
            rule(value)

    return check


def _dotted(value: Any) -> None:
    if not (isinstance(value, str) and 0 < len(value) <= _MAX_NAME):
        raise _Bad(f"{value!r:.120} is not a dotted name")
    for part in value.split("."):
        if not _is_identifier(part) or keyword.iskeyword(part):
            raise _Bad(
                f"{value!r:.120} is not a dotted name (identifiers joined by dots, like "
                "'pkg.module' or 'ops.Echo')"
            )


def _site(value: Any) -> None:
    # A site is known by an identifier; Flare names sites by e-mail (``alpha@org.com``).
    if not isinstance(value, str):
        raise _Bad(f"{value!r:.120} is not a site name")
    name, at, host = value.partition("@")
    if not _is_identifier(name) or (at and not _HOST_PART.fullmatch(host)):
        raise _Bad(
            f"{value!r:.120} is not a valid site name (an identifier, optionally followed by "
            "'@' and a host or domain name)"
        )


def _node_id(value: Any) -> None:
    if type(value) is int:
        if abs(value) >= _MAX_NODE_INT:
            raise _Bad(f"node id {value:.3g} is out of range")
        return
    if isinstance(value, str):
        _identifier(value)
        return
    raise _Bad(f"{value!r:.120} is not a node id (an integer or an identifier)")


def _text(value: Any) -> None:
    if not isinstance(value, str) or len(value) > _MAX_TEXT or not value.isprintable():
        raise _Bad(
            f"{value!r:.120} is not allowed here (printable text of at most {_MAX_TEXT} "
            "characters: no line breaks or control characters)"
        )


def _free_text(value: Any) -> None:
    # Shown to people and written through repr() only: line breaks are fine, NUL is not.
    if not isinstance(value, str) or len(value) > _MAX_TEXT or "\x00" in value:
        raise _Bad(f"{value!r:.120} is not text of at most {_MAX_TEXT} characters without NUL")


def _pattern(regex: re.Pattern[str], what: str) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        if not (isinstance(value, str) and regex.fullmatch(value)):
            raise _Bad(f"{value!r:.120} is not {what}")

    return check


def _selector(value: Any) -> None:
    if type(value) is int:
        if abs(value) >= _MAX_NODE_INT:
            raise _Bad(f"selector {value:.3g} is out of range")
        return
    if not isinstance(value, str) or not 0 < len(value) <= _MAX_NAME or not value.isprintable():
        raise _Bad(
            f"{value!r:.120} is not a valid selector (an integer, or printable text of at most "
            f"{_MAX_NAME} characters)"
        )


def _json_data(value: Any, depth: int = 0) -> None:
    if depth > 100:
        raise _Bad("a literal nested more than 100 levels deep")
    kind = type(value)
    if value is None or kind in (str, bool, int):
        return
    if kind is float:
        if not math.isfinite(value):
            raise _Bad("a literal holds a non-finite float outside the tagged forms")
        return
    if kind in (list, tuple):
        for item in value:
            _json_data(item, depth + 1)
        return
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                raise _Bad(f"a literal holds a non-string key {key!r:.60}")
            _json_data(item, depth + 1)
        return
    raise _Bad(f"a literal holds a {kind.__name__}, which is not JSON data")


def _tagged(value: Any) -> None:
    if not (isinstance(value, (tuple, list)) and len(value) == 2 and value[0] in _TAGS):
        raise _Bad(
            f"{value!r:.120} is not a tagged value (tag, json) with a tag among "
            f"{', '.join(sorted(_TAGS))}"
        )
    _json_data(value[1])


# Rules by field name, wherever the field appears in the NetIR.
_FIELDS: dict[str, Callable[[Any], None]] = {
    "site": _site,
    "homesite": _site,
    "federation_name": _dotted,
    "pipeline_name": _optional(_free_text),
    "api_version": _optional(lambda v: v == "" or _pattern(_VERSION, "a version")(v)),
    "fingerprint": _pattern(_HEX64, "a SHA-256 fingerprint (64 hex digits)"),
    "name": _identifier,
    "place": _identifier,
    "stmt_id": _identifier,
    "adapter": _dotted,
    "provider": _optional(_attribute),
    "node_id": _optional(_node_id),
    "sel": _optional(_selector),
    "dfm_class_name": _dotted,
    "kind": _identifier,
    "origin": _identifier,
    "value": _tagged,  # LiteralValue.value
}


def _places(value: Any) -> None:
    if not isinstance(value, (list, tuple)):
        raise _Bad(f"{value!r:.120} is not a list of places")
    for place in value:
        _identifier(place)


# Mappings by field name: (rule for keys, rule for values or None to walk them).
_MAPPINGS: dict[str, tuple[Callable[[Any], None], Callable[[Any], None] | None]] = {
    "external": (_identifier, _places),
    "literal_params": (_identifier, _tagged),
    "stmt_params": (_identifier, None),
}


def _walk(value: Any, path: str) -> Iterator[tuple[str, Any, Callable[[Any], None]]]:
    """Every (path, value, rule) of a model tree; unknown strings get the text rule."""
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            item = getattr(value, name)
            where = f"{path}.{name}" if path else name
            if name in _MAPPINGS:
                key_rule, item_rule = _MAPPINGS[name]
                if not isinstance(item, Mapping):
                    yield where, item, _not_a_mapping
                    continue
                for key, sub in item.items():
                    yield f"{where}[{key!r:.60}] (the key)", key, key_rule
                    if item_rule is not None:
                        yield f"{where}[{key!r:.60}]", sub, item_rule
                    else:
                        yield from _walk(sub, f"{where}[{key!r:.60}]")
            elif name in _FIELDS and not isinstance(item, BaseModel):
                # (a block's or a condition's ``value`` is a model: walked below)
                yield where, item, _FIELDS[name]
            else:
                yield from _walk(item, where)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _walk(item, f"{path}[{i}]")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield f"{path}[{key!r:.60}] (the key)", key, _text
            yield from _walk(item, f"{path}[{key!r:.60}]")
    elif isinstance(value, str):
        yield path, value, _text
    elif value is None or type(value) in (bool, int) or type(value) is float:
        return
    else:
        yield path, value, _not_data


def _not_a_mapping(value: Any) -> None:
    raise _Bad(f"{type(value).__name__} is not a mapping")


def _not_data(value: Any) -> None:
    raise _Bad(f"a {type(value).__name__} is not NetIR data")


def _first_site(netir: Any) -> str:
    site = getattr(netir, "site", None)
    return site if isinstance(site, str) and site.isprintable() else repr(site)


_checked: set[str] = set()


def validate_netir(netir: NetIR, *, site: str | None = None, federation: str | None = None) -> None:
    """Check every name of a NetIR against its grammar, and whom it is for.

    A NetIR that passed is remembered by fingerprint (a NetIR is frozen and its
    fingerprint is recomputed from its content when it is parsed), so a site checks
    each net once per process.

    Args:
        netir: The NetIR received.
        site: The receiving site: the NetIR must be for it (None: not checked).
        federation: The receiving site's federation: the NetIR must be for it.

    Raises:
        NetIRRefused: A field breaks its rule, or the NetIR is for another site or
            federation. The message names the site, the field and the rule.
    """
    receiver = site if site is not None else _first_site(netir)
    if not isinstance(netir, NetIR):
        raise NetIRRefused(receiver, "NetIR", f"a {type(netir).__name__} is not a NetIR")
    fingerprint = netir.fingerprint
    if not (isinstance(fingerprint, str) and fingerprint in _checked):
        for where, value, rule in _walk(netir, ""):
            try:
                rule(value)
            except _Bad as e:
                raise NetIRRefused(receiver, where, str(e)) from None
        _check_structure(netir, receiver)
        _checked.add(fingerprint)
    if site is not None and netir.site != site:
        raise NetIRRefused(site, "site", f"the NetIR is for site {netir.site!r}, not this one")
    if federation is not None and netir.federation_name != federation:
        raise NetIRRefused(
            receiver,
            "federation_name",
            f"the NetIR is for federation {netir.federation_name!r}; this site belongs to "
            f"{federation!r}",
        )


def _check_structure(netir: NetIR, site: str) -> None:
    names: set[str] = set()
    places: dict[str, str] = {}
    for i, t in enumerate(netir.transitions):
        if t.name in names:
            raise NetIRRefused(site, f"transitions[{i}].name", f"{t.name!r} is used twice")
        names.add(t.name)
        for j, place in enumerate(t.inputs):
            other = places.get(place.name)
            if other is not None:
                raise NetIRRefused(
                    site,
                    f"transitions[{i}].inputs[{j}].name",
                    f"place {place.name!r} is already an input of transition {other!r}",
                )
            places[place.name] = t.name
