"""The real fixture configs load and generate importable API packages."""

from __future__ import annotations

import filecmp
import shutil
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from dfm.api import Operation
from dfm.modgen.apigen import generate_federation
from dfm.modgen.config import FederationConfig, load_federation_config

FILES = {
    "examplefed": "examplefed/federation.dfm.yaml",
    "testpkg": "testpkg/testpkg.dfm.yaml",
    "weatherfed": "weatherfed/federation.dfm.yaml",
}
PACKAGES = {"examplefed": "examplefed", "testpkg": "testpkg", "weatherfed": "weather_fed"}


def _load(root: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> FederationConfig:
    if name == "weatherfed":  # its refs are written relative to the weatherfed folder
        monkeypatch.chdir(root / "weatherfed")
    return load_federation_config(root / FILES[name])


def _api_modules(config: FederationConfig) -> set[str]:
    pkg = config.code_package
    return {
        f"{pkg}.fed.api" + (f".{name.rpartition('.')[0]}" if "." in name else "")
        for name in config.operations
    }


@pytest.mark.parametrize("name", sorted(FILES))
def test_fixture_loads_and_generates_importable_api(
    name: str,
    fixtures: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    stand_ins: Callable[[Path, str], None],
    import_generated: Callable[[Path, str], ModuleType],
) -> None:
    config = _load(fixtures, name, monkeypatch)
    assert config.code_package == PACKAGES[name]
    out = tmp_path / "out"
    generate_federation(config, out)
    if name == "testpkg":
        stand_ins(out, "testpkg")  # CustomModel, named by an operation parameter
    for module_name in sorted(_api_modules(config)):
        module = import_generated(out, module_name)
        for op in config.operations:
            cls = getattr(module, op.rpartition(".")[2], None)
            if cls is not None:
                assert issubclass(cls, Operation)
                assert cls.__api_name__ == op
    for site in config.sites:
        import_generated(out, f"{config.code_package}.fed.site.{site.split('@')[0]}")
        runtime = import_generated(out, f"{config.code_package}.fed.runtime.{site.split('@')[0]}")
        assert runtime.API_VERSION == config.info.api_version


def test_weatherfed_counts(fixtures: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _load(fixtures, "weatherfed", monkeypatch)
    assert len(config.operations) == 13
    assert {k: len(s.interface) for k, s in config.sites.items()} == {
        "server": 8,
        "client1": 13,
        "homesite": 13,
    }
    assert config.sites["server"].impl is not None
    assert config.sites["server"].impl.path == "nv_dfm_lib_weather.site.ModelCacheSite"


def test_weatherfed_refs_resolve_relative_to_the_file(
    fixtures: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The refs name packages/... relative to the weatherfed folder, which is also
    # the folder of the file: they resolve from any working directory.
    monkeypatch.chdir(tmp_path)
    config = load_federation_config(fixtures / FILES["weatherfed"])
    assert "sfno.SfnoPrognostic" in config.operations


def test_weatherfed_refs_fall_back_to_the_working_directory(
    fixtures: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The config moved elsewhere: its refs only resolve from the repository root
    # (the working directory), as with the reference implementation.
    moved = tmp_path / "configs" / "federation.dfm.yaml"
    moved.parent.mkdir()
    shutil.copy(fixtures / FILES["weatherfed"], moved)
    monkeypatch.chdir(fixtures / "weatherfed")
    config = load_federation_config(moved)
    assert len(config.operations) == 13


def test_examplefed_config_content(fixtures: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _load(fixtures, "examplefed", monkeypatch)
    assert config.provision is not None and config.provision.docker is not None
    assert config.provision.docker.build is not None
    assert config.provision.docker.build.engine == "docker"
    assert config.provision.helm is not None
    assert config.provision.helm.startup_package_source == "env"
    binding = config.sites["concierge"].interface["users.GreetMe"]
    assert binding.is_async is True
    assert [(arg, e.param) for arg, e in binding.exposed()] == [("greet_fmt", "greeting")]


def test_testpkg_merged_parameters_keep_order(
    fixtures: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _load(fixtures, "testpkg", monkeypatch)
    params = config.operations["tasks.RunComputation"].parameters
    assert list(params) == ["initial_state", "input_state", "rate_alpha", "rate_beta", "step_size"]
    assert params["input_state"].description == "The input state"
    # A parameter that is a $ref to a declared schema keeps the reference.
    assert config.operations["tasks.ProcessData"].parameters["input_state"].ref == (
        "#/schemas/tasks.InputState"
    )
    worker = config.sites["worker"]
    assert worker.cache_config is not None and worker.cache_config.protocol == "s3"
    assert worker.secrets_vault is not None
    assert worker.secrets_vault.path == "testpkg.lib.vault.VaultImpl"


def test_bundled_fixtures_match_the_shared_ones(shared_fixtures: Path | None) -> None:
    if shared_fixtures is None:
        pytest.skip(
            "shared fixtures not found (set DFM_SHARED_FIXTURES or check out ../shared); "
            "the bundled copies in tests/data/fixtures are used instead"
        )
    for name in FILES:
        cmp = filecmp.dircmp(shared_fixtures / name, Path(__file__).parent / "data/fixtures" / name)
        assert not cmp.diff_files and not cmp.left_only, f"bundled {name} differs from shared"


@pytest.mark.parametrize("name", sorted(FILES))
def test_shared_fixtures_load(
    name: str, shared_fixtures: Path | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if shared_fixtures is None:
        pytest.skip("shared fixtures not found (set DFM_SHARED_FIXTURES); bundled copies tested")
    assert _load(shared_fixtures, name, monkeypatch).operations
