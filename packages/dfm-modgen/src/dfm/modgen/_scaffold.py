"""``dfm init NAME``: a new federation that runs at once.

It writes a config (three sites: ``app`` where the application runs, ``east`` and
``west`` that offer one operation each), the adapters package, an application and a
README saying the next commands. Nothing is overwritten.
"""

from __future__ import annotations

import importlib.util
import keyword
from pathlib import Path
from string import Template

_CONFIG = """\
# The $name federation, made by `dfm init`. Describe your own operations and sites
# here, then run `dfm gen $name.dfm.yaml --output .` to regenerate $name/fed/.
dfm: 1.0.0
info:
  api-version: 1.0.0
  code-package: $name
  description: "A new DFM federation: greet someone on east, shout it on west"

operations:
  greet.Hello:
    description: "A greeting for someone"
    parameters:
      name: {type: string, description: "Who to greet"}
    required: [name]
    returns: string
  text.Shout:
    description: "The text in capitals"
    parameters:
      text: {type: string, description: "What to shout"}
    required: [text]
    returns: string

sites:
  app:
    info: {description: "Where the application runs; results arrive here"}
    send_cost:
      east: {fixed_time: 0.01, bandwidth: 10000000}
      west: {fixed_time: 0.01, bandwidth: 10000000}
  east:
    interface:
      "#/operations/greet.Hello":
        adapter: $name.lib.adapters.Hello
        args: from-operation
        compute_cost: {fixed_time: 0.001, fixed_size: 100}
    send_cost:
      app: {fixed_time: 0.01, bandwidth: 10000000}
      west: {fixed_time: 0.01, bandwidth: 10000000}
  west:
    interface:
      "#/operations/text.Shout":
        adapter: $name.lib.adapters.Shout
        is-async: false
        args: from-operation
        compute_cost: {fixed_time: 0.001, fixed_size: 100}
    send_cost:
      app: {fixed_time: 0.01, bandwidth: 10000000}
      east: {fixed_time: 0.01, bandwidth: 10000000}
"""

_ADAPTERS = '''\
"""The adapters of $name: the code each site runs for an operation (see $name.dfm.yaml)."""

from __future__ import annotations


class Hello:
    """greet.Hello on east."""

    async def body(self, name: str) -> str:
        """Greet ``name``."""
        return f"Hello, {name}!"


class Shout:
    """text.Shout on west (a plain function: `is-async: false` in the config)."""

    def body(self, text: str) -> str:
        """``text`` in capitals."""
        return text.upper()
'''

_APP = '''\
"""The $name application: a pipeline across east and west, run on this machine.

Generate the federation package once (and after every change of $name.dfm.yaml):

    dfm gen $name.dfm.yaml --output .

then run it: ``python app.py Ada Grace``. It also saves the pipeline as pipeline.json,
for ``dfm run pipeline.json --params '{"name": "Ada"}'`` and ``dfm show pipeline.json``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from $name.fed.api.greet import Hello  # noqa: E402
from $name.fed.api.text import Shout  # noqa: E402

from dfm.api import Pipeline, PlaceParam, Yield  # noqa: E402
from dfm.session import JobStatus, Session  # noqa: E402


def build_pipeline() -> Pipeline:
    """Greet a name (only east offers it), then shout the greeting (only west does)."""
    with Pipeline(name="hello") as pipeline:
        greeting = Hello(name=PlaceParam(place="name"))
        Yield(value=Shout(text=greeting), place="shout")
    return pipeline


def main(names: list[str]) -> int:
    """Run the pipeline once per name and print the results."""
    pipeline = build_pipeline()
    pipeline.save_to_file(Path(__file__).with_name("pipeline.json"))
    with Session(federation_name="$name", homesite="app") as session:
        prepared = session.prepare(pipeline)
        print("placement:", prepared.placement)
        job = session.execute(prepared, [{"name": name} for name in names])
        results = job.results(timeout=60)
    for frame, value in sorted(results.get("shout", {}).items(), key=lambda r: str(r[0])):
        print(frame, value)
    status = job.get_status()
    print(f"job {job.job_id}: {status.name}")
    for error in job.errors:
        print(f"  {error}")
    return 0 if status is JobStatus.FINISHED else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["world"]))
'''

_README = """\
# $name

A DFM federation made by `dfm init $name`: three sites on one machine (`app`, where the
application runs, and `east` and `west`, which offer one operation each).

```bash
dfm gen $name.dfm.yaml --output .     # generate $name/fed/ (again after each config change)
python app.py Ada Grace               # run the pipeline; also saves pipeline.json
dfm run pipeline.json --params '{"name": "Ada"}'
dfm show pipeline.json                # a picture of where each operation runs
```

- `$name.dfm.yaml`: the operations, the sites, which adapter runs each operation where.
- `$name/lib/adapters.py`: the adapters (your code).
- `app.py`: the application (a pipeline, a session, its results).
"""

_INIT = '"""The $name federation package: lib/ is yours, fed/ is generated by dfm gen."""\n'
_LIB_INIT = '"""Code of the $name federation that the sites run."""\n'


class ScaffoldError(Exception):
    """``dfm init`` cannot write the federation; the message says why and what to do."""


def check_name(name: str) -> None:
    """Refuse a federation name that cannot be its Python package.

    Raises:
        ScaffoldError: Not an identifier, a keyword, ``dfm``, or an installed module.
    """
    if not name.isidentifier() or keyword.iskeyword(name):
        raise ScaffoldError(
            f"{name!r} cannot be a federation name: it becomes a Python package, so use "
            "letters, digits and underscores, not starting with a digit (e.g. 'weather')"
        )
    if name == "dfm" or name.startswith("dfm_"):
        raise ScaffoldError(f"{name!r} is reserved for DFM itself; choose another name")
    if importlib.util.find_spec(name) is not None:
        raise ScaffoldError(
            f"{name!r} is the name of a module that is already installed; a federation "
            "package of that name would hide it (or be hidden): choose another name"
        )


def scaffold_files(name: str) -> dict[str, str]:
    """The files ``dfm init`` writes, by path relative to the new folder."""
    files = {
        f"{name}.dfm.yaml": _CONFIG,
        f"{name}/__init__.py": _INIT,
        f"{name}/lib/__init__.py": _LIB_INIT,
        f"{name}/lib/adapters.py": _ADAPTERS,
        "app.py": _APP,
        "README.md": _README,
    }
    return {path: Template(text).substitute(name=name) for path, text in files.items()}


def write_scaffold(name: str, folder: Path) -> list[Path]:
    """Write a new federation called ``name`` into ``folder`` (created if missing).

    Returns:
        The files written.

    Raises:
        ScaffoldError: A bad name, or ``folder`` already holds one of the files.
    """
    check_name(name)
    files = scaffold_files(name)
    existing = sorted(p for p in files if (folder / p).exists())
    if existing:
        raise ScaffoldError(
            f"{folder} already has {', '.join(existing)}; dfm init never overwrites: choose "
            "another folder with --dir, or remove them"
        )
    written = []
    for rel, text in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
