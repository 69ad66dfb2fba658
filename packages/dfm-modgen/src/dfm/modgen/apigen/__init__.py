"""Code generation from a federation config: ``dfm gen``.

`generate_federation` turns a `FederationConfig` into the federation's Python
package (``<code-package>/fed``): operation classes, site-pinned classes, schema
models, per-site runtime packages and ``fed_info.json``.
"""

from ._call_gen import method_suffix
from ._errors import GenerationError
from ._generate import GenerationReport, generate_federation, render_federation, write_federation
from ._runtime_gen import DEFAULT_COMPUTE_COST, build_fed_info

__all__ = [
    "DEFAULT_COMPUTE_COST",
    "GenerationError",
    "GenerationReport",
    "build_fed_info",
    "generate_federation",
    "method_suffix",
    "render_federation",
    "write_federation",
]
