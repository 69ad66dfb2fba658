"""Literals that stay encoded on load reach the site's NetIR unchanged (item 2 of issue 6)."""

from __future__ import annotations

import base64
import json
import pickle
from pathlib import Path
from typing import Any

from dfm.api import TRUSTED, EncodedLiteral, FedInfo, Pipeline, Yield, decode_value
from dfm.irgen import AdapterCall, LiteralValue, PreparedPipeline, prepare


class _WriteFileWhenUnpickled:
    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (Path.write_text, (self.target, "pwned"))


def _crafted(target: Path) -> tuple[str, str, dict[str, Any]]:
    from irgentestops import Echo

    with Pipeline() as p:
        e = Echo(x=1, site="s1")
        Yield(value=e)
        Yield(value=2, place="lit")
    payload = base64.b64encode(pickle.dumps(_WriteFileWhenUnpickled(target))).decode("ascii")
    model = {"class": "os.system", "data": {"command": f"touch {target}"}}
    data = json.loads(p.model_dump_json())
    data["dfm_body"][0]["x"] = {"tag": "__dfm__value__", "value": ["pickle", payload]}
    data["dfm_body"][2]["value"] = {"tag": "__dfm__value__", "value": ["model", model]}
    return json.dumps(data), payload, model


def test_pickle_and_model_payloads_pass_through_to_the_netir(fed3: FedInfo, tmp_path: Path) -> None:
    target = tmp_path / "pwned.txt"
    text, payload, model = _crafted(target)
    pipeline = Pipeline.model_validate_json(text)
    prepared = prepare(pipeline, fed3, "app", "fed")
    assert not target.exists()
    call = prepared.net_irs()["s1"].transitions[0].body[0]
    assert isinstance(call, AdapterCall)
    assert call.literal_params == {"x": ("pickle", payload)}
    literal = next(
        s.data for t in prepared.net_irs()["app"].transitions for s in t.sends if s.place == "lit"
    )
    assert isinstance(literal, LiteralValue) and literal.value == ("model", model)
    # The prepared pipeline is data: its JSON round trip keeps the payloads, inertly.
    back = PreparedPipeline.model_validate_json(prepared.model_dump_json())
    assert back.net_irs()["s1"].transitions[0].body[0] == call
    assert not target.exists()


def test_in_process_literals_are_encoded_as_before(fed3: FedInfo) -> None:
    from irgentestops import Echo

    with Pipeline() as p:
        Yield(value=Echo(x={1, 2}, site="s1"))
    call = prepare(p, fed3, "app", "fed").net_irs()["s1"].transitions[0].body[0]
    assert isinstance(call, AdapterCall)
    assert call.literal_params["x"][0] == "pickle"
    assert decode_value(call.literal_params["x"], TRUSTED) == {1, 2}
    again = Pipeline.model_validate_json(p.model_dump_json())
    assert isinstance(again.dfm_body[0].x, EncodedLiteral)  # type: ignore[attr-defined]
    call_again = prepare(again, fed3, "app", "fed").net_irs()["s1"].transitions[0].body[0]
    assert call_again == call
