"""Regeneration: deterministic output, unchanged files untouched, fed/ replaced wholesale."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dfm.modgen.apigen import GenerationError, render_federation, write_federation
from dfm.modgen.apigen._writer import write_tree
from dfm.modgen.config import load_federation_config, load_federation_config_from_string

CONFIG = """
dfm: 1.0.0
info: {api-version: 1.0.0, code-package: regen}
operations:
  a.One: {returns: x, parameters: {p: {type: string}}}
  b.Two: {returns: x}
sites:
  s1:
    interface:
      "#/operations/a.One": {adapter: m.A, args: from-operation}
      "#/operations/b.Two": {adapter: m.B}
  s2: {}
"""


def _snapshot(root: Path) -> dict[str, tuple[int, bytes]]:
    return {
        str(p.relative_to(root)): (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_regenerating_an_unchanged_config_changes_no_file(tmp_path: Path) -> None:
    config = load_federation_config_from_string(CONFIG)
    first = write_federation(config, tmp_path)
    assert first.changed and not first.removed
    before = _snapshot(tmp_path)
    second = write_federation(config, tmp_path)
    assert second.changed == [] and second.removed == []
    assert first.files[0] == tmp_path / "regen" / "__init__.py"  # created on the first run only
    assert second.files == first.files[1:]
    assert _snapshot(tmp_path) == before


def test_changed_config_rewrites_only_what_changed(tmp_path: Path) -> None:
    write_federation(load_federation_config_from_string(CONFIG), tmp_path)
    fed = tmp_path / "regen" / "fed"
    pycache = fed / "api" / "__pycache__"
    pycache.mkdir()
    (pycache / "a.cpython-311.pyc").write_bytes(b"x")
    before = _snapshot(fed)
    smaller = CONFIG.replace('      "#/operations/b.Two": {adapter: m.B}\n', "").replace(
        "  b.Two: {returns: x}\n", ""
    )
    report = write_federation(load_federation_config_from_string(smaller), tmp_path)
    after = _snapshot(fed)
    assert {str(p.relative_to(fed)) for p in report.removed} == {
        "api/b.py",
        "site/s1/b.py",
    }
    assert not (fed / "api" / "b.py").exists()
    assert not pycache.exists()  # the old tree went away as a whole
    changed = {str(p.relative_to(fed)) for p in report.changed}
    assert changed == {"runtime/s1/_this_site.py", "runtime/fed_info.json"}
    for rel, (mtime, data) in after.items():
        if rel not in changed:
            assert before[rel] == (mtime, data), rel


def test_pycache_alone_does_not_trigger_a_rewrite(tmp_path: Path) -> None:
    config = load_federation_config_from_string(CONFIG)
    write_federation(config, tmp_path)
    cache = tmp_path / "regen" / "fed" / "__pycache__" / "x.pyc"
    cache.parent.mkdir()
    cache.write_bytes(b"x")
    assert write_federation(config, tmp_path).changed == []
    assert cache.exists()


def test_files_beside_fed_are_never_touched(tmp_path: Path) -> None:
    package = tmp_path / "regen"
    (package / "lib").mkdir(parents=True)
    (package / "lib" / "adapters.py").write_text("# mine\n")
    (package / "__init__.py").write_text("# my package\n")
    stale = package / "fed" / "api" / "gone.py"
    stale.parent.mkdir(parents=True)
    stale.write_text("old")
    report = write_federation(load_federation_config_from_string(CONFIG), tmp_path)
    assert (package / "lib" / "adapters.py").read_text() == "# mine\n"
    assert (package / "__init__.py").read_text() == "# my package\n"
    assert package / "__init__.py" not in report.files
    assert not stale.exists() and stale in report.removed
    assert sorted(p.name for p in package.iterdir()) == ["__init__.py", "fed", "lib"]


def test_package_init_is_written_when_missing(tmp_path: Path) -> None:
    report = write_federation(load_federation_config_from_string(CONFIG), tmp_path)
    init = tmp_path / "regen" / "__init__.py"
    assert init in report.files and init in report.changed
    assert init.read_text().startswith('"""Federation')


def test_output_is_deterministic_across_processes(fixtures: Path) -> None:
    # Hash seeds change set and dict-of-set orders; the output must not depend on them.
    script = (
        "import hashlib, sys\n"
        "from dfm.modgen.apigen import render_federation\n"
        "from dfm.modgen.config import load_federation_config\n"
        "files = render_federation(load_federation_config(sys.argv[1]))\n"
        "h = hashlib.sha256()\n"
        "[h.update(k.encode() + v.encode()) for k, v in sorted(files.items())]\n"
        "print(h.hexdigest())\n"
    )
    path = str(fixtures / "testpkg" / "testpkg.dfm.yaml")
    digests = set()
    for seed in ("1", "2", "random"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        done = subprocess.run(
            [sys.executable, "-c", script, path],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        digests.add(done.stdout.strip())
    files = render_federation(load_federation_config(path))
    h = hashlib.sha256()
    for k, v in sorted(files.items()):
        h.update(k.encode() + v.encode())
    digests.add(h.hexdigest())
    assert len(digests) == 1


@pytest.mark.parametrize("rel", ["../escape.py", "/abs.py", "a/../../b.py"])
def test_paths_must_stay_inside(tmp_path: Path, rel: str) -> None:
    with pytest.raises(GenerationError, match="would leave"):
        write_tree(tmp_path / "fed", {rel: "x"})
    assert not (tmp_path / "fed").exists()


def test_failed_swap_keeps_the_old_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_federation_config_from_string(CONFIG)
    write_federation(config, tmp_path)
    before = _snapshot(tmp_path / "regen" / "fed")
    calls = []
    real_replace = os.replace

    def flaky(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        calls.append((src, dst))
        if len(calls) == 2:
            raise OSError("disk full")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", flaky)
    changed = CONFIG.replace("api-version: 1.0.0", "api-version: 1.0.1")
    with pytest.raises(OSError, match="disk full"):
        write_federation(load_federation_config_from_string(changed), tmp_path)
    monkeypatch.setattr(os, "replace", real_replace)
    assert _snapshot(tmp_path / "regen" / "fed") == before
    assert sorted(p.name for p in (tmp_path / "regen").iterdir()) == ["__init__.py", "fed"]
