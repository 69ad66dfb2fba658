"""What ``dfm run`` and ``dfm show`` read: the pipeline file, the federation, the homesite.

Every mistake becomes a :class:`CliError` whose message says what is wrong and how to
fix it; pydantic's raw reports never reach the user.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from dfm.api import FedInfo, Pipeline, federation_prefixes

if TYPE_CHECKING:
    from dfm.irgen import PreparedPipeline

_MAX_LISTED = 5
_HOW_TO_SAVE = "save a pipeline with pipeline.save_to_file(PATH)"


class CliError(Exception):
    """A mistake in what the user gave a command; the message says how to fix it."""


def use_working_directory() -> None:
    """Like ``python -m``: look for federation packages in the working directory first."""
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())


def describe_validation_error(error: ValidationError, what: str) -> str:
    """One readable paragraph for a pydantic error: where, and what was wrong."""
    lines = []
    for item in error.errors()[:_MAX_LISTED]:
        where = ".".join(str(p) for p in item.get("loc", ())) or "(top level)"
        message = str(item.get("msg", "invalid")).removeprefix("Value error, ")
        lines.append(f"at {where}: {message}")
    more = error.error_count() - len(lines)
    if more > 0:
        lines.append(f"and {more} more problem(s)")
    return f"{what}: " + "; ".join(lines)


def read_json_file(path: str) -> dict[str, Any]:
    """The JSON object in ``path``.

    Raises:
        CliError: The file is missing, unreadable, not JSON or not a JSON object.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CliError(f"pipeline file {path!r} not found ({_HOW_TO_SAVE})") from None
    except IsADirectoryError:
        raise CliError(f"{path!r} is a folder, not a pipeline file ({_HOW_TO_SAVE})") from None
    except (OSError, UnicodeDecodeError) as e:
        raise CliError(f"cannot read pipeline file {path!r}: {e}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise CliError(
            f"{path!r} is not JSON (line {e.lineno}, column {e.colno}: {e.msg}); {_HOW_TO_SAVE}"
        ) from None
    if not isinstance(data, dict):
        raise CliError(f"{path!r} is not a DFM pipeline (a JSON object); {_HOW_TO_SAVE}")
    return data


def is_prepared(data: dict[str, Any]) -> bool:
    """Whether the JSON is a PreparedPipeline (``prepared.model_dump_json()``)."""
    return "net_irs_by_site" in data


def _class_names(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        name = value.get("dfm_class_name")
        if isinstance(name, str):
            yield name
        for item in value.values():
            yield from _class_names(item)
    elif isinstance(value, list):
        for item in value:
            yield from _class_names(item)


def federations_used(data: dict[str, Any]) -> set[str]:
    """The packages whose operations a pipeline's JSON names (``meteo`` for meteo.fed…)."""
    if is_prepared(data):
        name = data.get("federation_name")
        return {name} if isinstance(name, str) and name else set()
    return {n.split(".")[0] for n in _class_names(data.get("dfm_body", []))} - {"dfm", ""}


def federations_here(folder: Path) -> list[str]:
    """The generated federation packages directly in ``folder``."""
    if not folder.is_dir():
        return []
    return sorted(
        d.name
        for d in folder.iterdir()
        if (d / "fed" / "runtime" / "fed_info.json").is_file() and d.name.isidentifier()
    )


def find_federation(explicit: str | None, data: dict[str, Any], folder: Path) -> str:
    """The federation: ``--federation``, else the pipeline's, else the only one in ``folder``.

    Raises:
        CliError: It cannot be told, or ``--federation`` contradicts the pipeline.
    """
    used = federations_used(data)
    if explicit:
        others = sorted(used - {explicit})
        if others:
            raise CliError(
                f"the pipeline uses operations of {', '.join(map(repr, others))}, not of "
                f"federation {explicit!r}; pass --federation {others[0]}"
            )
        return explicit
    if len(used) == 1:
        return used.pop()
    if len(used) > 1:
        raise CliError(
            f"the pipeline uses operations of several federations ({', '.join(sorted(used))}); "
            "a pipeline runs in one federation"
        )
    here = federations_here(folder)
    if len(here) == 1:
        return here[0]
    found = f" (found here: {', '.join(here)})" if here else ""
    raise CliError(f"cannot tell the federation{found}; pass --federation NAME")


def load_fed_info(federation: str) -> FedInfo:
    """The federation's cost model, or a CliError saying how to get it."""
    if importlib.util.find_spec(federation) is None:
        raise CliError(
            f"federation package {federation!r} not found in the working directory or the "
            "installed packages; generate it with `dfm gen CONFIG --output .` here, or install it"
        )
    try:
        return FedInfo.load_from_package(federation)
    except ValidationError as e:
        raise CliError(
            describe_validation_error(e, f"fed_info.json of {federation!r} is broken")
            + "; regenerate the package with `dfm gen`"
        ) from None
    except ValueError as e:
        raise CliError(str(e)) from None


def find_homesite(explicit: str | None, federation: str, fed_info: FedInfo) -> str:
    """The homesite: ``--homesite``, else the federation's only site, else its only bare one.

    A site that offers no operation can only be where an application runs.

    Raises:
        CliError: It cannot be told, or ``--homesite`` is not a site of the federation.
    """
    sites = list(fed_info.sites)
    if explicit:
        if explicit not in fed_info.sites:
            raise CliError(
                f"--homesite {explicit!r} is not a site of federation {federation!r}; its "
                f"sites: {', '.join(sites) or 'none'}"
            )
        return explicit
    if len(sites) == 1:
        return sites[0]
    bare = [s for s, info in fed_info.sites.items() if not info.interface and not info.providers]
    if len(bare) == 1:
        return bare[0]
    raise CliError(
        f"cannot tell the homesite (the site your application runs at) of federation "
        f"{federation!r}: pass --homesite, one of {', '.join(sites)}"
    )


def load_pipeline(path: str, data: dict[str, Any], federation: str) -> Pipeline:
    """The pipeline in ``data`` (read from ``path``), its classes allowed from ``federation``.

    Raises:
        CliError: The JSON is not a valid pipeline of this federation.
    """
    try:
        return Pipeline.load_from_file(path, allow=federation_prefixes(federation))
    except ValidationError as e:
        raise CliError(
            describe_validation_error(e, f"{path!r} is not a valid DFM pipeline")
            + f" ({_HOW_TO_SAVE})"
        ) from None
    except Exception as e:  # whatever the JSON holds, the user sees one clear line
        raise CliError(
            f"{path!r} cannot be loaded as a pipeline of {federation!r}: {e} ({_HOW_TO_SAVE})"
        ) from None


def load_prepared(path: str, data: dict[str, Any]) -> PreparedPipeline:
    """A PreparedPipeline saved as JSON.

    Raises:
        CliError: The JSON is not a valid PreparedPipeline.
    """
    from dfm.irgen import PreparedPipeline

    try:
        return PreparedPipeline.model_validate(data)
    except ValidationError as e:
        raise CliError(
            describe_validation_error(e, f"{path!r} is not a valid prepared pipeline")
        ) from None


def parse_params(text: str) -> Any:
    """``--params``: one parameter set (a JSON object) or a list of them.

    Raises:
        CliError: Not JSON, or neither an object nor a list of objects.
    """
    try:
        params = json.loads(text)
    except json.JSONDecodeError as e:
        raise CliError(
            f"--params is not JSON ({e.msg} at column {e.colno}): {text!r}; "
            """write e.g. --params '{"city": "oslo"}' or '[{"city": "oslo"}, {"city": "rome"}]'"""
        ) from None
    sets = params if isinstance(params, list) else [params]
    if not all(isinstance(s, dict) for s in sets):
        raise CliError(
            f"--params must be a JSON object (one parameter set) or a list of objects, not {text!r}"
        )
    return params
