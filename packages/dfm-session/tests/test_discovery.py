from __future__ import annotations

from typing import Any

import pytest

from dfm.session import (
    TARGET_API_VERSION,
    Target,
    TargetLoadError,
    TargetNotFoundError,
    _discovery,
    find_target,
    installed_targets,
    load_target,
)


def _ep(entry_points: Any, name: str, dist: str, obj: Any = None, **kw: Any) -> None:
    fake = type(entry_points[0])
    dist_class = type(entry_points[0].dist)
    value = f"{dist.replace('-', '_')}:T"
    entry_points.append(fake(name, value, dist_class(dist, "0.9"), obj, **kw))
    _discovery.clear_target_cache()


def test_lists_without_loading(entry_points: Any) -> None:
    _ep(entry_points, "never", "dfm-target-never", error=AssertionError("must not be imported"))
    names = [(e.name, e.distribution, e.version) for e in installed_targets()]
    assert names == [("fake", "dfm-target-fake", "1.2"), ("never", "dfm-target-never", "0.9")]
    assert load_target("fake").__name__ == "FakeTarget"


def test_scan_is_cached(entry_points: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    original = _discovery._entry_points
    monkeypatch.setattr(_discovery, "_entry_points", lambda: calls.append(1) or original())
    _discovery.clear_target_cache()
    installed_targets()
    find_target("fake")
    load_target("fake")
    assert calls == [1]


def test_not_found_names_installed_and_distribution(entry_points: Any) -> None:
    with pytest.raises(TargetNotFoundError) as info:
        load_target("flare")
    message = str(info.value)
    assert "'flare'" in message
    assert "fake (dfm-target-fake 1.2)" in message
    assert "pip install dfm-target-flare" in message


def test_duplicate_names_both_distributions(entry_points: Any) -> None:
    _ep(entry_points, "fake", "other-dist")
    with pytest.raises(TargetLoadError) as info:
        load_target("fake")
    assert "dfm-target-fake" in str(info.value) and "other-dist" in str(info.value)


def test_same_distribution_twice_is_one_target(entry_points: Any) -> None:
    entry_points.append(entry_points[0])
    _discovery.clear_target_cache()
    assert len(installed_targets()) == 1
    load_target("fake")


def test_load_failure_is_chained(entry_points: Any) -> None:
    _ep(entry_points, "broken", "dfm-target-broken", error=ImportError("no module named nvflare"))
    with pytest.raises(TargetLoadError) as info:
        load_target("broken")
    assert "dfm-target-broken 0.9" in str(info.value) and "dfm_target_broken:T" in str(info.value)
    assert isinstance(info.value.__cause__, ImportError)


def test_api_version_handshake(entry_points: Any) -> None:
    class Future(Target):
        target_api_version = TARGET_API_VERSION + 1

    _ep(entry_points, "future", "dfm-target-future", Future)
    with pytest.raises(TargetLoadError, match=f"target API version {TARGET_API_VERSION + 1}"):
        load_target("future")
    _ep(entry_points, "notatarget", "dfm-target-x", object)
    with pytest.raises(TargetLoadError, match="not a dfm.session.Target"):
        load_target("notatarget")


def test_accepted_options() -> None:
    class Anything(Target):
        def __init__(self, session_info: Any, **options: Any) -> None:
            super().__init__(session_info)

    class NoOptions(Target):
        pass

    assert Anything.accepted_options() is None
    Anything.check_options({"whatever": 1})
    with pytest.raises(TypeError, match="accepted options: none"):
        NoOptions.check_options({"x": 1})
