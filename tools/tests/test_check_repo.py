from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import check_repo
import pytest


def problems(root: Path) -> list[str]:
    return check_repo.find_problems(root)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def test_valid_tree_passes(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert problems(repo) == []
    assert check_repo.main(["--root", str(repo)]) == 0
    assert "OK (4 packages)" in capsys.readouterr().out


def test_a_new_package_is_checked_generically(
    repo: Path,
    add_package: Callable[[str, str, list[str]], Path],
    set_meta: Callable[[list[str]], Path],
) -> None:
    pkg = add_package("dfm-d", "d", ['"dfm-target-c==0.1.0"'])
    # the meta-package must list it too
    assert problems(repo) == ["packages/dfm-all: meta-package does not depend on dfm-d==0.1.0"]
    set_meta(["dfm-a", "dfm-b", "dfm-target-c", "dfm-d"])
    assert problems(repo) == []
    (pkg / "src/dfm/d/py.typed").unlink()
    assert problems(repo) == ["packages/dfm-d: leaf package src/dfm/d has no py.typed"]


def test_pin_differing_from_version(repo: Path) -> None:
    edit(repo / "packages/dfm-b/pyproject.toml", "dfm-a==0.1.0", "dfm-a==0.0.9")
    assert problems(repo) == [
        "packages/dfm-b: sibling pin 'dfm-a==0.0.9' is not exactly 'dfm-a==0.1.0'"
    ]


@pytest.mark.parametrize("spec", [">=0.1.0", "~=0.1.0", "==0.1.*", ">=0.1,<0.2", "", "===0.1.0"])
def test_pin_not_exact(repo: Path, spec: str) -> None:
    edit(repo / "packages/dfm-b/pyproject.toml", '"dfm-a==0.1.0"', f'"dfm-a{spec}"')
    (problem,) = problems(repo)
    assert problem.startswith("packages/dfm-b: sibling pin ")


def test_pin_with_extras_and_marker_is_fine(repo: Path) -> None:
    edit(
        repo / "packages/dfm-b/pyproject.toml",
        '"dfm-a==0.1.0"',
        "\"dfm-a[x] == 0.1.0; python_version >= '3.11'\"",
    )
    assert problems(repo) == []


def test_pin_in_optional_dependencies_is_checked(repo: Path) -> None:
    path = repo / "packages/dfm-target-c/pyproject.toml"
    path.write_text(path.read_text() + '\n[project.optional-dependencies]\nx = ["dfm-a>=0.1"]\n')
    # the table lands after [tool...] tables: move it into [project] by rewriting
    text = path.read_text().replace('\n[project.optional-dependencies]\nx = ["dfm-a>=0.1"]\n', "")
    text = text.replace(
        'dependencies = ["dfm-b==0.1.0"]',
        'dependencies = ["dfm-b==0.1.0"]\noptional-dependencies = { x = ["dfm-a>=0.1"] }',
    )
    path.write_text(text)
    assert problems(repo) == [
        "packages/dfm-target-c: sibling pin 'dfm-a>=0.1' is not exactly 'dfm-a==0.1.0'"
    ]


def test_unknown_sibling(repo: Path) -> None:
    edit(repo / "packages/dfm-b/pyproject.toml", "dfm-a==0.1.0", "dfm-zz==0.1.0")
    assert problems(repo) == [
        "packages/dfm-b: depends on 'dfm-zz', which is not a distribution under packages/"
    ]


@pytest.mark.parametrize("namespace", ["src/dfm", "src/dfm/targets"])
def test_init_in_namespace(repo: Path, namespace: str) -> None:
    (repo / "packages/dfm-target-c" / namespace / "__init__.py").write_text("")
    (problem,) = problems(repo)
    assert problem.startswith(f"packages/dfm-target-c: {namespace}/__init__.py exists")


def test_missing_py_typed(repo: Path) -> None:
    (repo / "packages/dfm-target-c/src/dfm/targets/c/py.typed").unlink()
    assert problems(repo) == [
        "packages/dfm-target-c: leaf package src/dfm/targets/c has no py.typed"
    ]


def test_leaf_without_code_needs_nothing(repo: Path) -> None:
    # A leaf with only py.typed (no code yet) is fine, as on a fresh package.
    leaf = repo / "packages/dfm-a/src/dfm/a"
    (leaf / "__init__.py").unlink()
    assert problems(repo) == []


def test_leaf_with_code_needs_init(repo: Path) -> None:
    leaf = repo / "packages/dfm-a/src/dfm/a"
    (leaf / "__init__.py").rename(leaf / "_impl.py")
    assert problems(repo) == ["packages/dfm-a: leaf package src/dfm/a has no __init__.py"]


def test_missing_readme_and_tests(repo: Path) -> None:
    pkg = repo / "packages/dfm-a"
    (pkg / "README.md").unlink()
    for f in (pkg / "tests").iterdir():
        f.unlink()
    (pkg / "tests").rmdir()
    assert problems(repo) == [
        "packages/dfm-a: has no README.md",
        "packages/dfm-a: has no tests/ directory",
    ]


def test_wheel_packages_and_version_source(repo: Path) -> None:
    path = repo / "packages/dfm-a/pyproject.toml"
    edit(path, 'packages = ["src/dfm"]', 'packages = ["src/dfm/a"]')
    edit(path, 'path = "../../VERSION"', 'path = "VERSION"')
    assert problems(repo) == [
        'packages/dfm-a: [tool.hatch.version] must have path = "../../VERSION"',
        'packages/dfm-a: [tool.hatch.build.targets.wheel] must have packages = ["src/dfm"]',
    ]


def test_static_version(repo: Path) -> None:
    edit(repo / "packages/dfm-a/pyproject.toml", 'dynamic = ["version"]', 'version = "0.1.0"')
    assert problems(repo) == [
        "packages/dfm-a: has a static [project] version; use dynamic = ['version'] and the "
        "VERSION file",
        "packages/dfm-a: 'version' is not in [project] dynamic",
    ]


def test_every_problem_is_listed(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(repo / "packages/dfm-b/pyproject.toml", "dfm-a==0.1.0", "dfm-a==0.2.0")
    (repo / "packages/dfm-a/src/dfm/__init__.py").write_text("")
    (repo / "packages/dfm-a/src/dfm/a/py.typed").unlink()
    (repo / "packages/dfm-target-c/README.md").unlink()
    assert check_repo.main(["--root", str(repo)]) == 1
    err = capsys.readouterr().err
    assert "4 problem(s)" in err
    assert err.count("\n  packages/") == 4


def test_directory_named_differently_from_distribution(repo: Path) -> None:
    (repo / "packages/dfm-a").rename(repo / "packages/dfm-aa")
    assert "packages/dfm-aa: distribution name 'dfm-a' differs from its directory name" in (
        problems(repo)
    )


def test_meta_package_lists_every_distribution(
    repo: Path, set_meta: Callable[[list[str]], Path]
) -> None:
    set_meta(["dfm-a", "dfm-b"])
    assert problems(repo) == [
        "packages/dfm-all: meta-package does not depend on dfm-target-c==0.1.0"
    ]


def test_meta_package_holds_only_pins(repo: Path) -> None:
    meta = repo / "packages/dfm-all/pyproject.toml"
    edit(meta, '"dfm-a==0.1.0"', '"dfm-a==0.1.0", "numpy>=1"')
    (repo / "packages/dfm-all/src").mkdir()
    assert problems(repo) == [
        "packages/dfm-all: meta-package depends on 'numpy>=1', which is not a DFM distribution "
        "(it holds only the pins of the distributions under packages/)",
        "packages/dfm-all: meta-package has a src/ folder; it holds no code",
    ]


def test_meta_package_pins_are_exact(repo: Path) -> None:
    edit(repo / "packages/dfm-all/pyproject.toml", '"dfm-a==0.1.0"', '"dfm-a>=0.1"')
    assert problems(repo) == [
        "packages/dfm-all: sibling pin 'dfm-a>=0.1' is not exactly 'dfm-a==0.1.0'"
    ]


def test_meta_package_is_required(repo: Path) -> None:
    import shutil

    shutil.rmtree(repo / "packages/dfm-all")
    assert problems(repo) == [
        "packages/dfm-all: missing; the meta-package (metadata only, bypass-selection = true) "
        "must depend on every distribution"
    ]


def test_layering(repo: Path) -> None:
    (repo / "packages/dfm-a/src/dfm/a/_x.py").write_text(
        "import dfm.a\nfrom dfm.b import thing\n"
        "def f():\n    import dfm.targets.c.sub as s, os\n"
        "from dfm import b as bee  # comment\nfrom dfm.targets import (c)\n"
        'TEMPLATE = f"from {RUNTIME} import Site"\n'
    )
    (repo / "packages/dfm-target-c/src/dfm/targets/c/_y.py").write_text(
        "from dfm.a import x\nfrom dfm.b._impl import y\n"
    )
    assert problems(repo) == [
        "packages/dfm-a/src/dfm/a/_x.py:2: imports dfm.b from dfm-b, which dfm-a does not "
        "depend on (layering)",
        "packages/dfm-a/src/dfm/a/_x.py:4: imports dfm.targets.c.sub from dfm-target-c, which "
        "dfm-a does not depend on (layering)",
        "packages/dfm-a/src/dfm/a/_x.py:5: imports dfm.b from dfm-b, which dfm-a does not "
        "depend on (layering)",
        "packages/dfm-a/src/dfm/a/_x.py:6: imports dfm.targets.c from dfm-target-c, which "
        "dfm-a does not depend on (layering)",
    ]


def test_missing_version_file(repo: Path) -> None:
    (repo / "VERSION").unlink()
    assert problems(repo) == ["VERSION: missing"]


def test_package_dir_without_pyproject(repo: Path) -> None:
    (repo / "packages/stray").mkdir()
    assert problems(repo) == ["packages/stray: has no pyproject.toml"]


def test_layering_sees_spelled_out_and_relative_imports(repo: Path) -> None:
    (repo / "packages/dfm-a/src/dfm/a/_x.py").write_text(
        "import importlib\n"
        "def f():\n    return importlib.import_module('dfm.b.sub')\n"
        "def g():\n    return __import__('dfm.targets.c')\n"
        "name = 'dfm.b'\nimportlib.import_module(name)  # not a constant: not seen\n"
        "from . import _y\nfrom .. import b\n"
    )
    assert problems(repo) == [
        "packages/dfm-a/src/dfm/a/_x.py:3: imports dfm.b.sub from dfm-b, which dfm-a does not "
        "depend on (layering)",
        "packages/dfm-a/src/dfm/a/_x.py:5: imports dfm.targets.c from dfm-target-c, which "
        "dfm-a does not depend on (layering)",
        "packages/dfm-a/src/dfm/a/_x.py:9: imports dfm.b from dfm-b, which dfm-a does not "
        "depend on (layering)",
    ]


def test_optional_imports_are_allowed_only_where_listed(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (repo / "packages/dfm-a/src/dfm/a/_x.py").write_text(
        "try:\n    import dfm.b\nexcept ImportError:\n    b = None\n"
    )
    (line,) = problems(repo)
    assert line.startswith("packages/dfm-a/src/dfm/a/_x.py:2: imports dfm.b from dfm-b")
    monkeypatch.setitem(check_repo.OPTIONAL_IMPORTS, "dfm-a", {"dfm-b"})
    assert problems(repo) == []


def test_declared_dependencies_follow_the_architecture(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(check_repo.ARCHITECTURE, "dfm-b", set())
    assert problems(repo) == [
        "packages/dfm-b: depends on dfm-a, which ARCHITECTURE.md puts above or beside it "
        "(it may depend on: nothing)"
    ]


def test_coverage_paths_cover_every_leaf(repo: Path) -> None:
    (repo / "pyproject.toml").write_text(
        '[tool.coverage.paths]\na = ["packages/dfm-a/src/dfm/a", "*/site-packages/dfm/a"]\n'
    )
    found = problems(repo)
    assert len(found) == 2 and all("[tool.coverage.paths] has no entry" in p for p in found)
    assert any("'packages/dfm-target-c/src/dfm/targets/c'" in p for p in found)
