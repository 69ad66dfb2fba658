"""A config author with only dfm-modgen installed generates a federation package.

Run in a copy of examples/meteo, in a venv with dfm-modgen and its dependencies only.
"""

from __future__ import annotations

import importlib.util
import sys

from dfm.api._cli import main

for absent in ("dfm.runtime", "dfm.session", "dfm.irgen"):
    assert importlib.util.find_spec(absent) is None, f"a config author does not need {absent}"

code = main(["gen", "meteo.dfm.yaml", "--output", "."])
assert code == 0, f"dfm gen exited with {code}"
print("author role: dfm gen with dfm-modgen only")
sys.exit(0)
