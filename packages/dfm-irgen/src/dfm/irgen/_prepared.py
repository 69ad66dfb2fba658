"""PreparedPipeline: a compiled pipeline, ready to execute any number of times."""

from __future__ import annotations

import hashlib
import logging
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from dfm.api import (
    START_PLACE_NAME,
    STATUS_PLACE_NAME,
    Frame,
    NodeId,
    ValueSchema,
    describe_node,
)

from ._checks import ParamCheck
from ._ir import AdapterCall, NetIR, PlacedOperation, YieldPlace
from ._ir_blocks import BLOCK_OPERATIONS


def _place_problem(index: int, required: set[str], given: set[str]) -> str:
    missing = sorted(required - given)
    extra = sorted(given - required)
    parts = []
    if missing:
        parts.append(
            f"is missing input parameters that are required PlaceParams in the pipeline: {missing}"
        )
    if extra:
        parts.append(
            f"provided unexpected parameters that are not PlaceParams in the pipeline: {extra}"
        )
    known = sorted(required) or "none"
    return f"Parameter set {index} {' and '.join(parts)} (the pipeline's PlaceParams: {known})"


class PreparedPipeline(BaseModel):
    """The result of ``Session.prepare()``: one NetIR per participating site.

    It is data: it round-trips through JSON and can be executed many times.

    Attributes:
        federation_name: The federation's code package.
        homesite: The application's site; yields and status tokens go there.
        pipeline_name: The pipeline's name, if it has one.
        api_version: The federation API version the pipeline was written against.
        mode: ``"execute"``, or ``"discovery"`` (which operations can take which values).
        net_irs_by_site: The NetIR of every participating site.
        yield_places: The application's places: each yield place, then ``_dfm_status_``.
        param_places: The PlaceParam names every parameter set must give.
        param_checks: Per PlaceParam, the declared types its values are checked against.
        status_site: The site whose status transition reports each frame's outcome.
        placement: Operation node (``node0``, …) → the site it runs on.
        placement_details: Operation node → its name, site and the costs that decided
            (blocks are not operations: :meth:`node_labels` names them too).
    """

    model_config = ConfigDict(extra="forbid", defer_build=True)

    federation_name: str
    homesite: str
    pipeline_name: str | None = None
    api_version: str = ""
    mode: Literal["execute", "discovery"] = "execute"
    net_irs_by_site: dict[str, NetIR] = Field(default_factory=dict)
    yield_places: list[YieldPlace] = Field(default_factory=list)
    param_places: list[str] = Field(default_factory=list)
    param_checks: dict[str, list[ParamCheck]] = Field(default_factory=dict)
    status_site: str = ""
    placement: dict[str, str] = Field(default_factory=dict)
    placement_details: dict[str, PlacedOperation] = Field(default_factory=dict)

    _checkers: dict[str, list[tuple[ParamCheck, ValueSchema]]] | None = PrivateAttr(None)

    def net_irs(self) -> dict[str, NetIR]:
        """The NetIR of every participating site."""
        return self.net_irs_by_site

    def get_participating_sites(self) -> list[str]:
        """The sites that run part of the pipeline."""
        return list(self.net_irs_by_site)

    def has_param_places(self) -> bool:
        """Whether the pipeline needs input parameters."""
        return bool(self.param_places)

    @property
    def fingerprint(self) -> str:
        """A digest of every site's NetIR."""
        digest = hashlib.sha256()
        for site in sorted(self.net_irs_by_site):
            digest.update(f"{site}:{self.net_irs_by_site[site].fingerprint};".encode())
        return digest.hexdigest()

    def describe(self) -> str:
        """A readable summary: where each operation runs and each site's transitions."""
        lines = [
            f"Pipeline {self.pipeline_name or '(unnamed)'} of {self.federation_name}, "
            f"homesite {self.homesite}, status from {self.status_site}"
        ]
        labels = self.node_labels()
        lines += [f"  {labels.get(node, node)} on {site}" for node, site in self.placement.items()]
        for site, net in self.net_irs_by_site.items():
            lines.append(f"site {site} ({net.fingerprint[:12]}):")
            for t in net.transitions:
                inputs = ", ".join(p.name for p in t.inputs)
                sends = ", ".join(
                    f"{'yield ' if s.is_yield else ''}{'if ' if s.guarded else ''}"
                    f"{s.site}/{s.place}"
                    for s in t.sends
                )
                what = f" [{t.block.kind}]" if t.block is not None else ""
                operations = [s.adapter for s in t.body if isinstance(s, AdapterCall)]
                if operations:
                    what += f" [{', '.join(operations)}]"
                if t.guard is not None:
                    what += f" [with {describe_node('If', t.guard.node_id)}]"
                if t.depth:
                    what += f" (depth {t.depth})"
                lines.append(f"  {t.name}{what}: [{inputs}] -> [{sends}]")
        return "\n".join(lines)

    def node_labels(self) -> dict[str, str]:
        """Each placed node (``node3``) as messages name it: ``stats.Summarize (node 3)``.

        Operations are named by their API name, blocks by their kind (``ForEach (node 5)``).
        """
        labels = {
            ident: describe_node(placed.operation, placed.node_id)
            for ident, placed in self.placement_details.items()
        }
        for net in self.net_irs_by_site.values():
            for t in net.transitions:
                if t.block is not None and t.node_id is not None and t.name not in labels:
                    labels[t.name] = describe_node(BLOCK_OPERATIONS[t.block.kind], t.node_id)
                if t.guard is not None:  # an If fused into the operation it reads
                    fused = NodeId(ident=t.guard.node_id).as_identifier()
                    labels.setdefault(fused, describe_node("If", t.guard.node_id))
        return labels

    def to_dot(self) -> str:
        """A picture of the pipeline in Graphviz's DOT language.

        Each participating site is a cluster with the operations placed there (name,
        node, and the estimated time on every candidate site; ▶ marks the chosen
        one); bold blue edges carry tokens between sites, labelled with the estimated
        size; parameters (yellow) and yield places (green) are the application's.
        Render it with ``dot -Tsvg``, or ``dfm show``.
        """
        from ._dot import to_dot

        return to_dot(self)

    def yield_place_names(self) -> set[str]:
        """The places of the application that receive tokens."""
        return {y.place for y in self.yield_places}

    def check_input_params(self, params: list[tuple[Frame, dict[str, Any]]]) -> None:
        """Check every parameter set: exactly the pipeline's PlaceParams, of the right types.

        ``__start_place__`` in a set is ignored (the session adds it). A set is named by
        its frame's parameter set index (``frame.input_paramset_index()``), which is the
        same across ``execute`` and later ``send_input_params`` calls of one job. A value
        must match the declared schema of every parameter it feeds (see
        :attr:`param_checks`).

        Raises:
            ValueError: listing every problem of every set: missing and unexpected
                places (with the pipeline's PlaceParams), and each value of the wrong
                type with its place, the operation and parameter, what was expected and
                what was given.
        """
        required = set(self.param_places)
        problems: list[str] = []
        for frame, values in params:
            if frame.is_stop_frame():
                continue
            index = frame.input_paramset_index()
            if not isinstance(values, dict):
                raise ValueError(
                    f"Parameter set {index} must be a dict of place name to value, "
                    f"not {type(values).__name__}"
                )
            given = set(values) - {START_PLACE_NAME}
            if given and self.mode == "discovery":
                problems.append(
                    f"Parameter set {index} provides values for {sorted(given)}, but a "
                    "discovery pipeline takes no parameters: its PlaceParams are advised, like "
                    "Advise(); execute it with input_params={} (or run it with mode='execute')"
                )
            elif given != required:
                problems.append(_place_problem(index, required, given))
            if self.param_checks:
                problems.extend(self._type_problems(index, values))
        if len(problems) == 1:
            raise ValueError(problems[0])
        if problems:
            listing = "".join(f"\n  - {p}" for p in problems)
            raise ValueError(
                f"{len(problems)} problems with the input parameters (nothing was sent):{listing}"
            )

    def _type_problems(self, index: int, values: dict[str, Any]) -> list[str]:
        if self._checkers is None:
            # Compiled once per prepared pipeline; the schemas do not change.
            self._checkers = {
                place: [(check, ValueSchema(check.json_schema)) for check in checks]
                for place, checks in self.param_checks.items()
            }
        problems: list[str] = []
        for place, checkers in self._checkers.items():
            if place not in values:
                continue
            value = values[place]
            for check, schema in checkers:
                for problem in schema.problems(value):
                    problems.append(
                        f"Parameter set {index}, place {place!r}: {check.node} parameter "
                        f"{check.parameter!r} {problem}"
                    )
        return problems

    def check_callbacks(
        self, place_names: set[str], logger: logging.Logger, has_default: bool = False
    ) -> None:
        """Warn about callbacks for places without a yield, and yield places nobody hears.

        Args:
            place_names: The places that have their own callback.
            logger: Where to warn.
            has_default: A default callback hears every place, so no yield place goes
                unheard; callbacks for unknown places are still reported.
        """
        yields = self.yield_place_names() - {STATUS_PLACE_NAME}
        unknown = sorted(place_names - yields - {STATUS_PLACE_NAME})
        if unknown:
            logger.warning(
                "Callbacks were registered for place(s) the pipeline has no yield for: %s "
                "(the pipeline's yield places: %s)",
                unknown,
                sorted(yields | {STATUS_PLACE_NAME}),
            )
        unheard = sorted(yields - place_names)
        if unheard and not has_default:
            logger.warning("No callbacks were registered for yield places %s", unheard)
