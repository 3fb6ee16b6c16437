"""Settings read from the environment (garment_search.config)."""

import pytest

from garment_search.config import env_numbers, env_switch
from garment_search.segmentation.head_coverings import HeadCut
from garment_search.segmentation.regions import RegionPooling


@pytest.mark.parametrize("raw, expected", [("", None), (" off ", None), ("0", None), ("4,0.5", (4, 0.5)),
                                           (" 8,1 ", (8, 1.0))])
def test_numbers_setting(monkeypatch: pytest.MonkeyPatch, raw: str, expected: tuple | None) -> None:
    monkeypatch.setenv("SOME_NUMBERS", raw)
    assert env_numbers("SOME_NUMBERS", (int, float), "'K,W'", "8,1") == expected


@pytest.mark.parametrize("raw", ["8", "8,1,2", "eight,1", "8.5,1"])
def test_a_malformed_numbers_setting_names_the_form_and_an_example(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("SOME_NUMBERS", raw)
    with pytest.raises(ValueError, match=r"SOME_NUMBERS must be 'K,W', e.g. '8,1', not"):
        env_numbers("SOME_NUMBERS", (int, float), "'K,W'", "8,1")


@pytest.mark.parametrize("raw, expected", [("", True), ("1", True), ("ON", True), ("0", False), ("no", False)])
def test_switch_setting(monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool) -> None:
    monkeypatch.setenv("SOME_SWITCH", raw)
    assert env_switch("SOME_SWITCH", True) is expected


def test_a_bad_switch_says_what_it_wants(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_SWITCH", "maybe")
    with pytest.raises(ValueError, match="SOME_SWITCH must be 1 or 0"):
        env_switch("SOME_SWITCH", True)


@pytest.mark.parametrize("variable, read, raw, expected", [
    ("SPLIT_REGIONS", RegionPooling.from_env, "", None), ("SPLIT_REGIONS", RegionPooling.from_env, "0", None),
    ("SPLIT_REGIONS", RegionPooling.from_env, "8,1", RegionPooling(8, 1.0)),
    ("SPLIT_REGIONS", RegionPooling.from_env, " 4,0.5 ", RegionPooling(4, 0.5)),
    ("HEAD_COVERINGS", HeadCut.from_env, "", None), ("HEAD_COVERINGS", HeadCut.from_env, "off", None),
    ("HEAD_COVERINGS", HeadCut.from_env, "0.75,0.4,4", HeadCut(0.75, 0.4, 4)),
])
def test_segmentation_settings(monkeypatch: pytest.MonkeyPatch, variable: str, read, raw: str, expected) -> None:
    monkeypatch.setenv(variable, raw)
    assert read() == expected


@pytest.mark.parametrize("variable, read, raw", [
    *[("SPLIT_REGIONS", RegionPooling.from_env, raw) for raw in ("8", "eight,1", "8,2", "0,1", "8,1,3")],
    *[("HEAD_COVERINGS", HeadCut.from_env, raw) for raw in ("0.75", "a,b,c", "0,0.4,4", "0.75,1.5,4", "0.75,0.4,0")],
])
def test_a_bad_segmentation_setting_says_what_it_wants(monkeypatch: pytest.MonkeyPatch, variable: str, read,
                                                       raw: str) -> None:
    monkeypatch.setenv(variable, raw)
    with pytest.raises(ValueError, match=variable):
        read()
