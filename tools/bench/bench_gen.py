"""Benchmark of `dfm gen`: a synthetic 50-operation, 10-site federation, end to end.

Usage: python tools/bench/bench_gen.py [--ops 50] [--sites 10] [--repeat 5]

Writes a config (operations and site interfaces split over several files joined
by ``$ref`` lists, like real federations), then times, as the library calls that
``dfm gen`` makes: loading (YAML, refs, validation), rendering, writing a fresh
package, and regenerating an unchanged one. Prints the best of ``--repeat`` runs
per stage; the goal is a full fresh run under 2 s.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from dfm.modgen.apigen import render_federation, write_federation
from dfm.modgen.config import load_federation_config

GOAL_SECONDS = 2.0
TYPES = ["string", "number", "integer", "boolean", "array", "object"]


def _operation(i: int) -> dict[str, Any]:
    params: dict[str, Any] = {
        f"p{j}": {"type": TYPES[(i + j) % len(TYPES)], "description": f"Parameter {j}."}
        for j in range(6)
    }
    params["shape"] = {"$ref": f"#/schemas/geo.Shape{i % 5}"}
    params["mode"] = {"type": "string", "enum": ["fast", "exact"], "default": "fast"}
    params["either"] = {"type": ["number", "null"], "accepts-place-input": False}
    return {
        "description": f"Synthetic operation number {i}.",
        "parameters": params,
        "required": ["p0", "p1"],
        "returns": "object",
    }


def _binding(i: int, site: int) -> dict[str, Any]:
    args: dict[str, Any] = {f"p{j}": {"from-param": f"p{j}"} for j in range(6)}
    args["shape"] = {"from-param": "shape"}
    args["scale"] = {
        "const": site,
        "expose-as": {"param": "scale", "type": "integer", "description": "Scale."},
    }
    args["token"] = {"from-secrets": "API_TOKEN"}
    args["fed"] = {"from-site": "federation_name"}
    return {
        "adapter": {"path": f"benchlib.adapters.m{i % 5}.Op{i}", "args": {"site": site}},
        "description": f"Operation {i} on site {site}.",
        "is-async": i % 3 != 0,
        "args": args,
        "compute_cost": {"fixed_time": 0.1 * (site + 1), "fixed_size": 1000},
    }


def write_config(root: Path, n_ops: int, n_sites: int) -> Path:
    """Write the synthetic federation under ``root`` and return the main file."""
    ops = {f"mod{i % 5}.Op{i}": _operation(i) for i in range(n_ops)}
    schemas = {
        f"geo.Shape{k}": {
            "type": "object",
            "description": f"Shape {k}.",
            "properties": {
                "points": {"type": "array", "items": {"$ref": "#/schemas/geo.Point"}},
                "label": {"type": "string"},
            },
            "required": ["points"],
        }
        for k in range(5)
    }
    schemas["geo.Point"] = {
        "type": "object",
        "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
    }
    parts = root / "parts"
    parts.mkdir(parents=True)
    for m in range(5):
        mine = {k: v for k, v in ops.items() if k.startswith(f"mod{m}.")}
        (parts / f"ops{m}.yaml").write_text(yaml.safe_dump({"operations": mine}))
    sites: dict[str, Any] = {}
    for s in range(n_sites):
        iface = {f"#/operations/{name}": _binding(i, s) for i, name in enumerate(ops)}
        (parts / f"site{s}.yaml").write_text(yaml.safe_dump({"interface": iface}))
        sites[f"site{s}"] = {
            "interface": {"$ref": [f"parts/site{s}.yaml#/interface"]},
            "send_cost": {f"site{t}": {"fixed_time": 0.5} for t in range(n_sites) if t != s},
        }
    config = {
        "dfm": "1.0.0",
        "info": {"api-version": "1.0.0", "code-package": "benchfed"},
        "schemas": schemas,
        "operations": {"$ref": [f"parts/ops{m}.yaml#/operations" for m in range(5)]},
        "sites": sites,
    }
    main = root / "benchfed.dfm.yaml"
    main.write_text(yaml.safe_dump(config, sort_keys=False))
    return main


def _best(repeat: int, fn: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=50)
    parser.add_argument("--sites", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    logging.getLogger("dfm.modgen").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="dfm-bench-gen-") as tmp:
        root = Path(tmp)
        main_file = write_config(root / "config", args.ops, args.sites)
        out = root / "out"
        config = load_federation_config(main_file)
        files = render_federation(config)

        def fresh() -> None:
            shutil.rmtree(out, ignore_errors=True)
            write_federation(load_federation_config(main_file), out)

        times = {
            "load (YAML + $ref + validation)": _best(
                args.repeat, lambda: load_federation_config(main_file)
            ),
            "render (in memory)": _best(args.repeat, lambda: render_federation(config)),
            "end to end, fresh output": _best(args.repeat, fresh),
            "end to end, unchanged output": _best(
                args.repeat, lambda: write_federation(load_federation_config(main_file), out)
            ),
        }
    size = sum(len(text) for text in files.values())
    print(
        f"dfm gen benchmark: {args.ops} operations, {args.sites} sites -> {len(files)} files, "
        f"{size / 1e6:.1f} MB (best of {args.repeat})"
    )
    for label, seconds in times.items():
        print(f"  {label:<34} {seconds * 1000:8.1f} ms")
    total = times["end to end, fresh output"]
    verdict = "within" if total <= GOAL_SECONDS else "MISSED"
    print(f"  goal: fresh run <= {GOAL_SECONDS:.1f} s -> {verdict}")
    return 0 if total <= GOAL_SECONDS else 1


if __name__ == "__main__":
    raise SystemExit(main())
