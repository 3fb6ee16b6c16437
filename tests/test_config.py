"""Settings read from the environment (garment_search.config)."""

import pytest

from garment_search.config import env_numbers, env_switch


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
