"""Web-visit scripts are checked strictly, with errors that name the step and the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from field_kit.webscript import ScriptError, load_script, parse_script


def _error(data: Any) -> str:
    with pytest.raises(ScriptError) as raised:
        parse_script(data)
    return str(raised.value)


def test_a_full_script_parses() -> None:
    script = parse_script(
        {
            "name": "Return a kettle",
            "base_url": "https://shop.example/",
            "on_error": "continue",
            "timeout_ms": 5000,
            "viewport": {"width": 390, "height": 844},
            "steps": [
                {"go": "/returns", "name": "Open returns"},
                {"click": "text=Start a return"},
                {"fill": {"selector": "#order", "value": 1234}},
                {"fill": {"selector": "#pin", "value": "0000", "secret": True}},
                {"expect": "#confirmation", "on_error": "stop"},
                {"expect": {"text": "Return booked", "timeout_ms": 300}},
                {"note": "The label never arrived."},
            ],
        }
    )
    assert script.name == "Return a kettle"
    assert script.viewport == (390, 844)
    go, click, fill, secret, expect, text, note = script.steps
    assert (go.type, go.target, go.name) == ("go", "https://shop.example/returns", "Open returns")
    assert (fill.target, fill.value, fill.timeout_ms) == ("#order", "1234", 5000)
    assert secret.secret
    assert (expect.on_error, click.on_error) == ("stop", "continue")
    assert (text.by_text, text.target, text.timeout_ms) == (True, "Return booked", 300)
    assert note.target == "The label never arrived."
    assert [s.number for s in script.steps] == [1, 2, 3, 4, 5, 6, 7]


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ([{"go": "https://a.example"}, {"tap": "#x"}], "step 2: unknown step type 'tap'"),
        ([{"fill": {"selector": "#a"}}], "step 1 (fill): missing field 'value'"),
        ([{"fill": {"value": "x"}}], "step 1 (fill): missing field 'selector'"),
        (
            [{"fill": {"selector": "#a", "value": "x", "typo": 1}}],
            "step 1 (fill): unknown field 'typo'",
        ),
        ([{"fill": "#a"}], "step 1 (fill): must be a mapping"),
        (
            [{"go": "https://a.example"}, {"click": ""}],
            "step 2 (click): the selector must not be empty",
        ),
        ([{"go": "ftp://a.example"}], "step 1 (go): the URL must be an http(s) URL"),
        ([{"go": "/relative"}], "step 1 (go): the URL must be an http(s) URL"),
        ([{"click": "#a", "go": "https://a.example"}], "step 1: needs exactly one of"),
        ([{"expect": {"text": "a", "selector": "#b"}}], "step 1 (expect): give exactly one of"),
        ([{"expect": "#a", "timeout_ms": -5}], "step 1 (expect): field 'timeout_ms'"),
        ([{"note": "a", "on_error": "ignore"}], "step 1 (note): field 'on_error' must be one of"),
        (["click"], "step 1: 'click' needs a value"),
        ([42], "step 1: must be a mapping"),
    ],
)
def test_bad_steps_name_the_step_and_field(steps: list[Any], message: str) -> None:
    assert message in _error({"steps": steps})


def test_bad_scripts_are_refused() -> None:
    assert "non-empty list" in _error({"steps": []})
    assert "non-empty list" in _error({"name": "x"})
    assert "Unknown top-level field 'stepz'" in _error({"stepz": [{"go": "https://a.example"}]})
    assert "must be a mapping" in _error(["go"])


def test_load_script_reports_bad_yaml(tmp_path: Path) -> None:
    path = tmp_path / "journey.yaml"
    path.write_text("steps:\n  - go: [unclosed\n")
    with pytest.raises(ScriptError, match="not valid YAML"):
        load_script(path)
    path.write_text("steps:\n  - go: https://a.example\n")
    assert load_script(path).name == "journey"
