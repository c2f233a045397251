"""Fuzzing web-visit scripts: the YAML journeys researchers write for ``fieldkit web``.

What is fuzzed: ``field_kit.webscript.parse_script`` with arbitrary nested data (hypothesis
``recursive`` dicts, lists and scalars), with script-shaped mappings of any values, and with
valid generated scripts that have exactly one field broken; ``load_script`` (what the CLI
calls) with arbitrary text, YAML-looking token soup (anchors, tags, flow collections, odd
dates, huge numbers), arbitrary bytes, deep nesting, and billion-laughs alias bombs placed
wherever a script holds a value.

Properties: the result is a ``WebScript`` or a ``ScriptError`` (nothing else escapes) whose
message names where the script is wrong: the file, a top-level field, or the step number, and
for a broken field that field. Alias bombs are refused in well under a second and a few MB,
never expanded. A valid script comes back with exactly the steps, targets and options it
was written with, parses the same from its YAML file, and parses the same again when written
out from the ``WebScript``.
"""

from __future__ import annotations

import re
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from field_kit.webscript import (
    DEFAULT_TIMEOUT_MS,
    MAX_TIMEOUT_MS,
    ON_ERROR,
    SCRIPT_KEYS,
    STEP_OPTIONS,
    STEP_TYPES,
    ScriptError,
    Step,
    WebScript,
    load_script,
    parse_script,
)

# Every message starts by saying where: the script, a top-level field, a step, or the file.
WHERE = re.compile(
    r"^(The script |Unknown top-level field |name |base_url |on_error |timeout_ms |viewport"
    r"|step \d+[ :]|script\.yaml is not |Cannot read )"
)
MAX_MESSAGE = 20_000
BOMB_SECONDS = 2.0
BOMB_PEAK_BYTES = 16 * 1024 * 1024


def parsed(data: Any) -> WebScript | None:
    """Parse a script; a refusal must be a ScriptError that says where, else nothing."""
    try:
        script = parse_script(data)
    except ScriptError as error:
        assert_names_where(error)
        return None
    assert isinstance(script, WebScript) and script.steps
    return script


def assert_names_where(error: ScriptError) -> None:
    message = str(error)
    assert WHERE.match(message), message
    assert len(message) < MAX_MESSAGE


def write_script(folder: Path, content: str | bytes) -> Path:
    path = folder / "script.yaml"
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def loaded(folder: Path, content: str | bytes) -> WebScript | None:
    """Load a script file; a refusal must be a ScriptError that says where, else nothing."""
    try:
        return load_script(write_script(folder, content))
    except ScriptError as error:
        assert_names_where(error)
        return None


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder for the script files of the tests (module-scoped: hypothesis reuses it)."""
    return tmp_path_factory.mktemp("webscripts")


# --- arbitrary data ---------------------------------------------------------------------------

KNOWN_WORDS = sorted({*SCRIPT_KEYS, *STEP_TYPES, *STEP_OPTIONS, *ON_ERROR})
KNOWN_WORDS += ["selector", "value", "secret", "text", "width", "height", "https://a.example"]
scalars: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=12),
    st.sampled_from(KNOWN_WORDS),
    st.binary(max_size=4),
)
keys: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from(KNOWN_WORDS), st.text(max_size=8), st.integers(), st.none(), st.booleans()
)
nested: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=4)
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(data=nested)
def test_any_nested_data_is_a_script_or_a_script_error_that_says_where(data: Any) -> None:
    parsed(data)


step_shaped = st.dictionaries(
    st.sampled_from([*STEP_TYPES, *STEP_OPTIONS, "tap"]), nested, min_size=1, max_size=3
)
script_shaped = st.fixed_dictionaries(
    {"steps": st.one_of(st.lists(st.one_of(step_shaped, nested), max_size=4), nested)},
    optional={key: nested for key in SCRIPT_KEYS - {"steps"}},
)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(data=script_shaped)
@example(data={"base_url": "http://[", "steps": [{"go": "/x"}]})  # unclosed IPv6 bracket
@example(data={"steps": [{"go": "http://a\uff03b"}]})  # a host NFKC turns into '#'
@example(data={"base_url": "https://a.example/", "steps": [{"go": "//[x"}]})
def test_script_shaped_data_is_a_script_or_a_script_error_that_says_where(
    data: dict[str, Any],
) -> None:
    parsed(data)


# --- valid scripts ----------------------------------------------------------------------------

texts = st.text(st.characters(codec="utf-8"), max_size=20)
filled_texts = texts.filter(lambda text: text.strip() != "")
hosts = st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z]{2,5}){1,2}(:[1-9][0-9]{0,3})?", fullmatch=True)
paths = st.from_regex(r"(/[A-Za-z0-9_~-]{0,8}){0,3}(\?[a-z]=[0-9]{1,3})?", fullmatch=True)
urls = st.builds(lambda s, h, p: f"{s}://{h}{p}", st.sampled_from(["http", "https"]), hosts, paths)
timeouts = st.integers(1, MAX_TIMEOUT_MS)
choices = st.sampled_from(ON_ERROR)


@st.composite
def step_data(draw: st.DrawFn, relative: bool) -> dict[str, Any]:
    """One valid step as a researcher writes it, with some of its options."""
    kind = draw(st.sampled_from(STEP_TYPES))
    body: Any
    if kind == "go":
        body = draw(st.one_of(urls, paths.filter(bool)) if relative else urls)
    elif kind in ("click", "note"):
        body = draw(filled_texts)
    elif kind == "fill":
        value = st.one_of(texts, st.integers(-(10**30), 10**30), st.floats())
        body = {"selector": draw(filled_texts), "value": draw(value)}
        if draw(st.booleans()):
            body["secret"] = draw(st.booleans())
    else:
        body = draw(
            st.one_of(
                filled_texts,
                st.fixed_dictionaries(
                    {"selector": filled_texts}, optional={"timeout_ms": timeouts}
                ),
                st.fixed_dictionaries({"text": filled_texts}, optional={"timeout_ms": timeouts}),
            )
        )
    options = draw(
        st.fixed_dictionaries(
            {}, optional={"name": texts, "timeout_ms": timeouts, "on_error": choices}
        )
    )
    return {kind: body, **options}


@st.composite
def script_data(draw: st.DrawFn) -> dict[str, Any]:
    """A valid script with some of its optional fields."""
    data: dict[str, Any] = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "name": filled_texts,
                "base_url": urls,
                "on_error": choices,
                "timeout_ms": timeouts,
                "viewport": st.fixed_dictionaries(
                    {"width": st.integers(200, 8000), "height": st.integers(200, 8000)}
                ),
            },
        )
    )
    relative = "base_url" in data
    data["steps"] = draw(st.lists(step_data(relative), min_size=1, max_size=5))
    return draw(st.permutations(list(data.items())).map(dict))


def expected_step(number: int, raw: dict[str, Any], script: dict[str, Any]) -> Step:
    """The step a valid raw step must become, worked out from the script format's rules."""
    [kind] = [key for key in raw if key in STEP_TYPES]
    body = raw[kind]
    timeout = raw.get("timeout_ms", script.get("timeout_ms", DEFAULT_TIMEOUT_MS))
    fields: dict[str, Any] = {}
    if kind == "go":
        target = urljoin(script["base_url"], body) if "base_url" in script else body
    elif kind == "fill":
        target, fields["value"] = body["selector"], str(body["value"])
        fields["secret"] = body.get("secret", False)
    elif kind == "expect" and isinstance(body, dict):
        fields["by_text"] = "text" in body
        target = body["text"] if "text" in body else body["selector"]
        timeout = body.get("timeout_ms", timeout)
    else:
        target = body
    return Step(
        number,
        kind,
        target,
        name=raw.get("name", ""),
        timeout_ms=timeout,
        on_error=raw.get("on_error", script.get("on_error", "stop")),
        **fields,
    )


def expected_script(data: dict[str, Any], default_name: str) -> WebScript:
    viewport = data.get("viewport")
    return WebScript(
        name=data.get("name", default_name),
        steps=tuple(expected_step(n, raw, data) for n, raw in enumerate(data["steps"], start=1)),
        base_url=data.get("base_url"),
        on_error=data.get("on_error", "stop"),
        timeout_ms=data.get("timeout_ms", DEFAULT_TIMEOUT_MS),
        viewport=(viewport["width"], viewport["height"]) if viewport else None,
    )


def written_out(script: WebScript) -> dict[str, Any]:
    """A WebScript written back as a script, every option spelt out."""
    steps = []
    for step in script.steps:
        body: Any = step.target
        if step.type == "fill":
            body = {"selector": step.target, "value": step.value, "secret": step.secret}
        elif step.type == "expect" and step.by_text:
            body = {"text": step.target}
        options = {"name": step.name, "timeout_ms": step.timeout_ms, "on_error": step.on_error}
        steps.append({step.type: body, **options})
    data: dict[str, Any] = {
        "name": script.name,
        "on_error": script.on_error,
        "timeout_ms": script.timeout_ms,
        "steps": steps,
    }
    if script.base_url is not None:
        data["base_url"] = script.base_url
    if script.viewport is not None:
        data["viewport"] = {"width": script.viewport[0], "height": script.viewport[1]}
    return data


@settings(max_examples=100, deadline=None, derandomize=True, database=None)
@given(
    data=script_data(),
    unicode=st.booleans(),
    flow=st.sampled_from([None, False, True]),
)
def test_a_valid_script_round_trips_through_parsing_yaml_and_writing_out(
    folder: Path, data: dict[str, Any], unicode: bool, flow: bool | None
) -> None:
    script = parse_script(data)
    assert script == expected_script(data, "web visit")

    text = yaml.safe_dump(data, allow_unicode=unicode, default_flow_style=flow)
    assert load_script(write_script(folder, text)) == expected_script(data, "script")

    assert parse_script(written_out(script)) == script


# --- one broken field -------------------------------------------------------------------------

not_text = st.one_of(
    st.integers(), st.floats(), st.booleans(), st.lists(st.integers(), max_size=2), st.none()
)
blank = st.sampled_from(["", " ", "\t\n "])
bad_timeouts = st.one_of(
    st.integers(max_value=0),
    st.integers(min_value=MAX_TIMEOUT_MS + 1),
    st.floats(),
    st.booleans(),
    st.text(max_size=5),
    st.none(),
)
bad_choices = st.one_of(
    st.text(max_size=10).filter(lambda text: text not in ON_ERROR),
    st.integers(),
    st.none(),
    st.booleans(),
    st.lists(st.sampled_from(ON_ERROR), max_size=3),
)
# URLs no base URL can turn into an http(s) one
bad_urls = st.sampled_from(
    ["ftp://x.example/", "javascript:alert(1)", "http://[", "https://[::1", "http://a\uff03b"]
)
bad_viewports = st.one_of(
    st.integers(),
    st.text(max_size=4),
    st.lists(st.integers(200, 800), max_size=2),
    st.fixed_dictionaries({"width": st.integers(200, 8000)}),
    st.fixed_dictionaries(
        {
            "width": st.one_of(
                st.integers(max_value=199), st.integers(min_value=8001), st.booleans()
            ),
            "height": st.integers(200, 8000),
        }
    ),
    st.fixed_dictionaries(
        {"width": st.integers(200, 8000), "height": st.integers(200, 8000), "depth": st.integers()}
    ),
)
Breakage = tuple[Callable[[dict[str, Any]], None], list[str]]


def top_level_breakages() -> st.SearchStrategy[Breakage]:
    """Break one top-level field; the message must name it."""

    def setting(key: str) -> Callable[[Any], Breakage]:
        return lambda value: (lambda data: data.__setitem__(key, value), [key])

    unknown = st.text(max_size=8).filter(lambda key: key not in SCRIPT_KEYS)
    return st.one_of(
        st.one_of(not_text, blank).map(setting("name")),
        st.one_of(not_text.filter(lambda v: v is not None), blank, bad_urls).map(
            setting("base_url")
        ),
        bad_choices.map(setting("on_error")),
        bad_timeouts.map(setting("timeout_ms")),
        bad_viewports.map(setting("viewport")),
        st.one_of(st.just([]), st.none(), st.integers(), st.text(max_size=3)).map(setting("steps")),
        unknown.map(
            lambda key: (
                lambda data: data.__setitem__(key, 1),
                ["Unknown top-level field", repr(key)],
            )
        ),
    )


def body_breakages(kind: str) -> st.SearchStrategy[tuple[Any, str]]:
    """(a broken body for a step of ``kind``, what the message must say about it)."""
    if kind == "go":
        return st.one_of(not_text, blank, bad_urls).map(lambda body: (body, "the URL"))
    if kind in ("click", "note"):
        what = "the selector" if kind == "click" else "the note text"
        return st.one_of(not_text, blank).map(lambda body: (body, what))
    if kind == "fill":
        good = {"selector": "#order", "value": "A-1"}
        return st.one_of(
            not_text.map(lambda body: (body, "must be a mapping")),
            st.just(({"value": "x"}, "missing field 'selector'")),
            st.just(({"selector": "#a"}, "missing field 'value'")),
            st.one_of(st.none(), st.booleans(), st.lists(st.integers(), max_size=1)).map(
                lambda value: ({**good, "value": value}, "field 'value'")
            ),
            st.one_of(st.integers(), st.text(max_size=3), st.none()).map(
                lambda secret: ({**good, "secret": secret}, "field 'secret'")
            ),
            st.one_of(not_text, blank).map(
                lambda selector: ({**good, "selector": selector}, "field 'selector'")
            ),
            st.just(({**good, "typo": 1}, "unknown field 'typo'")),
        )
    return st.one_of(  # expect
        st.one_of(st.integers(), st.none(), st.lists(st.integers(), max_size=2)).map(
            lambda body: (body, "must be a mapping")
        ),
        st.just(({}, "exactly one of fields 'selector' and 'text'")),
        st.just(({"selector": "#a", "text": "b"}, "exactly one of fields 'selector' and 'text'")),
        bad_timeouts.map(lambda t: ({"text": "Booked", "timeout_ms": t}, "field 'timeout_ms'")),
        st.one_of(not_text, blank).map(lambda text: ({"text": text}, "field 'text'")),
        st.just(({"text": "Booked", "typo": 1}, "unknown field 'typo'")),
    )


@st.composite
def step_breakages(draw: st.DrawFn, data: dict[str, Any]) -> Breakage:
    """Break one field of one step; the message must name the step and the field."""
    index = draw(st.integers(0, len(data["steps"]) - 1))
    raw = data["steps"][index]
    [kind] = [key for key in raw if key in STEP_TYPES]
    where = f"step {index + 1} ({kind})"
    choice = draw(st.sampled_from(["step", "option", "body", "extra key", "two types"]))

    def put(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
        return lambda script: script["steps"][index].__setitem__(key, value)

    if choice == "step":
        step: Any = draw(st.one_of(not_text, st.just({}), st.sampled_from(STEP_TYPES)))
        return (lambda script: script["steps"].__setitem__(index, step), [f"step {index + 1}: "])
    if choice == "option":
        option = draw(st.sampled_from(sorted(STEP_OPTIONS)))
        bad = {"name": not_text, "timeout_ms": bad_timeouts, "on_error": bad_choices}[option]
        return put(option, draw(bad)), [where, f"field '{option}'"]
    if choice == "body":
        body, what = draw(body_breakages(kind))
        return put(kind, body), [where, what]
    if choice == "extra key":
        key = draw(st.text(max_size=6).filter(lambda k: k not in {*STEP_TYPES, *STEP_OPTIONS}))
        return put(key, 1), [f"step {index + 1}: unknown step type {key!r}"]
    other = draw(st.sampled_from([t for t in STEP_TYPES if t != kind]))
    return put(other, "x"), [f"step {index + 1}: needs exactly one of"]


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(data=script_data(), pick=st.data())
def test_a_script_with_one_broken_field_is_refused_naming_that_field(
    data: dict[str, Any], pick: st.DataObject
) -> None:
    breakage = pick.draw(st.one_of(top_level_breakages(), step_breakages(data)))
    breaking, names = breakage
    breaking(data)
    with pytest.raises(ScriptError) as refused:
        parse_script(data)
    message = str(refused.value)
    assert_names_where(refused.value)
    assert all(name in message for name in names), (names, message)


# --- YAML files -------------------------------------------------------------------------------

yaml_tokens = st.sampled_from(
    [
        *["steps:", "- ", "go: ", "note: ", "fill: ", "expect: ", "name: ", "on_error: "],
        *["viewport:", "timeout_ms: ", "{", "}", "[", "]", ", ", ": ", "<<: ", "? "],
        *["&a ", "*a", "&b ", "*b"],
        *["!!binary ", "!!python/object/apply:os.system ", "!!set ", "!!float ", "!!int "],
        *["!!bool ", "!!timestamp ", "2024-02-30", "2024-13-01", "1" * 5000, "1e400", ".nan"],
        *["0x1F", "~", "yes", "null", "https://shop.example/", "x", "\x00", "\ufeff", "\x85"],
        *["\n", "\n  ", "\n    ", "\t", "'", '"', "# ", "---\n", "...\n", "|\n", ">\n"],
        "%YAML 1.1\n",
    ]
)
yaml_soup = st.lists(st.one_of(yaml_tokens, st.text(max_size=4)), max_size=40).map("".join)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(text=st.one_of(yaml_soup, st.text(max_size=80)))
@example(text="steps:\n  - note: 2024-02-30\n")  # PyYAML raises ValueError for this date
@example(text="timeout_ms: " + "1" * 5000 + "\nsteps: [{note: x}]\n")  # over int()'s digit limit
@example(text="[" * 3000 + "]" * 3000)  # nesting deeper than PyYAML's recursion
@example(text="timeout_ms: !!int\nsteps: [{note: x}]\n")  # PyYAML's IndexError
@example(text="on_error: !!bool maybe\n")  # PyYAML's KeyError
@example(text="name: !!timestamp noon\n")  # PyYAML's AttributeError
def test_any_yaml_text_is_a_script_or_a_script_error_that_says_where(
    folder: Path, text: str
) -> None:
    loaded(folder, text)


@settings(max_examples=100, deadline=None, derandomize=True, database=None)
@given(content=st.binary(max_size=200))
@example(content=b"\xff\xfesteps: []")  # not UTF-8
def test_any_bytes_are_a_script_or_a_script_error_that_says_where(
    folder: Path, content: bytes
) -> None:
    loaded(folder, content)


def alias_bomb(levels: int, fan: int, mapping: bool) -> str:
    """A billion-laughs value: ``levels`` anchors, each ``fan`` aliases of the one before."""
    if mapping:
        bomb = "&b0 {" + ", ".join(f"k{i}: lol" for i in range(fan)) + "}"
        for level in range(1, levels):
            rest = ", ".join(f"k{i}: *b{level - 1}" for i in range(1, fan))
            bomb = f"&b{level} {{k0: {bomb}, {rest}}}"
        return bomb
    bomb = "&b0 [" + ", ".join(["lol"] * fan) + "]"
    for level in range(1, levels):
        bomb = f"&b{level} [{bomb}, " + ", ".join([f"*b{level - 1}"] * (fan - 1)) + "]"
    return bomb


BOMB_SITES = [
    "{bomb}",
    "steps: {bomb}",
    "steps:\n  - {bomb}",
    "steps: [{{note: x}}]\nname: {bomb}",
    "steps: [{{note: x}}]\nbase_url: {bomb}",
    "steps: [{{note: x}}]\non_error: {bomb}",
    "steps: [{{note: x}}]\ntimeout_ms: {bomb}",
    "steps: [{{note: x}}]\nviewport: {bomb}",
    "steps:\n  - note: {bomb}",
    "steps:\n  - note: x\n    on_error: {bomb}",
    "steps:\n  - note: x\n    name: {bomb}",
    "steps:\n  - go: https://a.example/\n    timeout_ms: {bomb}",
    "steps:\n  - fill: {{selector: '#a', value: {bomb}}}",
    "steps:\n  - fill: {{selector: '#a', value: x, secret: {bomb}}}",
    "steps:\n  - expect: {{text: {bomb}}}",
    "steps:\n  - expect: {{text: x, timeout_ms: {bomb}}}",
]


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(
    site=st.sampled_from(BOMB_SITES),
    levels=st.integers(2, 9),
    fan=st.integers(2, 9),
    mapping=st.booleans(),
)
@example(site="steps: [{{note: x}}]\non_error: {bomb}", levels=9, fan=9, mapping=False)
@example(site="steps:\n  - note: x\n    on_error: {bomb}", levels=9, fan=9, mapping=True)
def test_alias_bombs_are_refused_quickly_in_little_memory(
    folder: Path, site: str, levels: int, fan: int, mapping: bool
) -> None:
    path = write_script(folder, site.format(bomb=alias_bomb(levels, fan, mapping)))
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(ScriptError) as refused:
            load_script(path)
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert_names_where(refused.value)
    assert elapsed < BOMB_SECONDS
    assert peak < BOMB_PEAK_BYTES
