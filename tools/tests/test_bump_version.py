from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import bump_version
import check_repo
import pytest


def test_bump_rewrites_version_and_every_exact_pin(repo: Path) -> None:
    assert bump_version.main(["0.2.0", "--root", str(repo)]) == 0
    assert (repo / "VERSION").read_text() == "0.2.0\n"
    assert '"dfm-a==0.2.0"' in (repo / "packages/dfm-b/pyproject.toml").read_text()
    assert '"dfm-b==0.2.0"' in (repo / "packages/dfm-target-c/pyproject.toml").read_text()
    assert check_repo.find_problems(repo) == []


def test_bump_moves_plugin_ranges_to_the_new_minor_series(repo: Path) -> None:
    plugin = repo / "tests-integration/plugins/acme/pyproject.toml"
    bump_version.bump(repo, "0.1.1")
    text = plugin.read_text()
    assert '"dfm-b>=0.1,<0.2"' in text  # a patch release stays in the range
    assert '"dfm-a==0.1.1"' in text
    assert 'version = "1.0.0"' in text  # the plugin's own version is not ours
    bump_version.bump(repo, "0.2.0")
    assert '"dfm-b>=0.2,<0.3"' in plugin.read_text()
    assert check_repo.find_problems(repo) == []


def test_check_repo_finds_a_plugin_range_that_excludes_the_version(repo: Path) -> None:
    (repo / "VERSION").write_text("0.2.0\n")
    bump_version.bump(repo, "0.2.0")
    plugin = repo / "tests-integration/plugins/acme/pyproject.toml"
    plugin.write_text(plugin.read_text().replace(">=0.2,<0.3", ">=0.1,<0.2"))
    problems = check_repo.find_problems(repo)
    assert any("dfm-b>=0.1,<0.2 excludes VERSION 0.2.0" in p for p in problems), problems


def test_bump_keeps_layout_comments_and_other_deps(repo: Path) -> None:
    path = repo / "packages/dfm-b/pyproject.toml"
    before = path.read_text()
    bump_version.bump(repo, "1.0.0rc1")
    after = path.read_text()
    assert after == before.replace("dfm-a==0.1.0", "dfm-a==1.0.0rc1")


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('"dfm-a==0.1.0"', '"dfm-a==9.9"'),
        ('"dfm-a == 0.1.0"', '"dfm-a == 9.9"'),
        ("'dfm-a==0.0.1'", "'dfm-a==9.9'"),  # a drifted pin is fixed too
        (
            "\"dfm-a[x]==0.1.0; python_version>='3.11'\"",
            "\"dfm-a[x]==9.9; python_version>='3.11'\"",
        ),
        ('"dfm-a>=0.1.0"', '"dfm-a>=0.1.0"'),
        ('"dfm-a~=0.1.0"', '"dfm-a~=0.1.0"'),
        ('"dfm-a==0.1.0,<1"', '"dfm-a==0.1.0,<1"'),
        ('"dfm-a===0.1.0"', '"dfm-a===0.1.0"'),
        ('"pydantic==2.0"', '"pydantic==2.0"'),
        ('name = "dfm-a"', 'name = "dfm-a"'),
    ],
)
def test_rewrite_pins(old: str, new: str) -> None:
    assert bump_version.rewrite_pins(old, "9.9") == new


def test_dry_run_changes_nothing(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = {p: p.read_text() for p in repo.rglob("*") if p.is_file()}
    assert bump_version.main(["0.3.0", "--root", str(repo), "--dry-run"]) == 0
    assert {p: p.read_text() for p in repo.rglob("*") if p.is_file()} == before
    out = capsys.readouterr().out
    assert "would change 5 file(s)" in out
    assert "packages/dfm-b/pyproject.toml" in out


@pytest.mark.parametrize("bad", ["v1.0", "1.0-beta", "", "1.0.0+local", "latest"])
def test_invalid_version_is_refused(repo: Path, bad: str) -> None:
    assert bump_version.main([bad, "--root", str(repo)]) == 2
    assert (repo / "VERSION").read_text() == "0.1.0\n"


def test_same_version_changes_nothing(repo: Path) -> None:
    assert bump_version.bump(repo, "0.1.0") == []


def test_bump_refuses_while_the_meta_package_misses_a_distribution(
    repo: Path,
    capsys: pytest.CaptureFixture[str],
    add_package: Callable[[str, str, list[str]], Path],
    set_meta: Callable[[list[str]], Path],
) -> None:
    add_package("dfm-d", "d", ['"dfm-a==0.1.0"'])
    assert bump_version.main(["0.2.0", "--root", str(repo)]) == 2
    assert "meta-package does not depend on dfm-d" in capsys.readouterr().err
    assert (repo / "VERSION").read_text() == "0.1.0\n"  # nothing changed
    set_meta(["dfm-a", "dfm-b", "dfm-target-c", "dfm-d"])
    assert bump_version.main(["0.2.0", "--root", str(repo)]) == 0
    assert '"dfm-d==0.2.0"' in (repo / "packages/dfm-all/pyproject.toml").read_text()
