"""Scripted website journeys: the YAML a researcher writes, checked strictly.

```yaml
name: Return a faulty kettle online
base_url: https://shop.example      # optional; lets ``go`` take paths
on_error: continue                  # or stop (the default)
timeout_ms: 10000                   # default wait for each step
steps:
  - go: /returns
  - click: "text=Start a return"
  - fill: {selector: "#order", value: "A-1234"}
  - fill: {selector: "#password", value: "hunter2", secret: true}
  - expect: "#confirmation"          # a selector...
  - expect: {text: "Return booked", timeout_ms: 3000}   # ...or text on the page
  - note: The confirmation hides the return address.
```

Any unknown key or step type, or a missing or mistyped field, is a ``ScriptError`` that
names the step number and the field, before a browser is started.
"""

from __future__ import annotations

import contextlib
import reprlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import yaml

STEP_TYPES = ("go", "click", "fill", "expect", "note")
STEP_OPTIONS = frozenset({"name", "timeout_ms", "on_error"})
SCRIPT_KEYS = frozenset({"name", "base_url", "on_error", "timeout_ms", "viewport", "steps"})
ON_ERROR = ("continue", "stop")
DEFAULT_TIMEOUT_MS = 10_000
MAX_TIMEOUT_MS = 600_000
# Error messages show a wrong value briefly: YAML aliases can nest a value a billion strings big.
_BRIEF = reprlib.Repr()
_BRIEF.maxlevel = 3


class ScriptError(ValueError):
    """A web-visit script that cannot be run as written."""


@dataclass(frozen=True)
class Step:
    """One step of a journey."""

    number: int
    type: str  # go | click | fill | expect | note
    target: str  # the URL, selector, expected text, or note text
    value: str | None = None  # what ``fill`` types
    by_text: bool = False  # ``expect`` looks for text rather than a selector
    secret: bool = False  # ``fill`` value is not recorded
    name: str = ""
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    on_error: str = "stop"

    def describe(self) -> str:
        """Return the step as a short line for people."""
        if self.name:
            return self.name
        if self.type == "fill":
            return f"fill {self.target}"
        if self.type == "expect" and self.by_text:
            return f"expect text {self.target!r}"
        if self.type == "note":
            return "note"
        return f"{self.type} {self.target}"


@dataclass(frozen=True)
class WebScript:
    """A whole journey."""

    name: str
    steps: tuple[Step, ...]
    base_url: str | None = None
    on_error: str = "stop"
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    viewport: tuple[int, int] | None = None

    def first_url(self) -> str | None:
        """Return the URL of the first ``go`` step."""
        return next((step.target for step in self.steps if step.type == "go"), None)


def load_script(path: Path) -> WebScript:
    """Read and check a YAML journey script."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise ScriptError(f"Cannot read {path}: {error.strerror or error}") from error
    except UnicodeDecodeError as error:
        raise ScriptError(f"{Path(path).name} is not UTF-8 text: {error}") from error
    try:
        data = yaml.safe_load(text)
    # Besides YAMLError, PyYAML lets out ValueError (a date such as 2024-02-30, an integer of
    # over 4300 digits), IndexError, KeyError or AttributeError (tags such as '!!int' or
    # '!!bool' on text they cannot read) and RecursionError (collections nested hundreds deep)
    except Exception as error:
        raise ScriptError(f"{Path(path).name} is not valid YAML: {error}") from error
    return parse_script(data, default_name=Path(path).stem)


def parse_script(data: Any, *, default_name: str = "web visit") -> WebScript:
    """Check a parsed script and return it; raise ``ScriptError`` naming what is wrong."""
    if not isinstance(data, dict):
        raise ScriptError("The script must be a mapping with a 'steps' list.")
    unknown = sorted(set(map(str, data)) - SCRIPT_KEYS)
    if unknown:
        raise ScriptError(
            f"Unknown top-level field {unknown[0]!r} (use: {', '.join(sorted(SCRIPT_KEYS))})."
        )
    name = _string(data.get("name", default_name), "name", allow_empty=False)
    base_url = data.get("base_url")
    if base_url is not None:
        base_url = _url(_string(base_url, "base_url", allow_empty=False), "base_url")
    on_error = _choice(data.get("on_error", "stop"), "on_error", ON_ERROR)
    timeout_ms = _timeout(data.get("timeout_ms", DEFAULT_TIMEOUT_MS), "timeout_ms")
    viewport = _viewport(data.get("viewport"))
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise ScriptError("The script needs 'steps': a non-empty list.")
    steps = tuple(
        _step(number, raw, base_url, on_error, timeout_ms)
        for number, raw in enumerate(raw_steps, start=1)
    )
    return WebScript(name, steps, base_url, on_error, timeout_ms, viewport)


def _step(number: int, raw: Any, base_url: str | None, on_error: str, timeout_ms: int) -> Step:
    where = f"step {number}"
    if isinstance(raw, str) and raw in STEP_TYPES:
        raise ScriptError(f"{where}: '{raw}' needs a value, e.g. '{raw}: ...'.")
    if not isinstance(raw, dict) or not raw:
        raise ScriptError(f"{where}: must be a mapping such as 'go: URL'.")
    keys = [str(key) for key in raw]
    types = [key for key in keys if key in STEP_TYPES]
    others = [key for key in keys if key not in STEP_TYPES and key not in STEP_OPTIONS]
    if others:
        raise ScriptError(
            f"{where}: unknown step type {others[0]!r} (use one of: {', '.join(STEP_TYPES)})."
        )
    if len(types) != 1:
        found = " and ".join(types) if types else "none"
        raise ScriptError(f"{where}: needs exactly one of {', '.join(STEP_TYPES)} (found {found}).")
    kind = types[0]
    where = f"step {number} ({kind})"
    name = _string(raw.get("name", ""), f"{where}: field 'name'")
    step_timeout = _timeout(raw.get("timeout_ms", timeout_ms), f"{where}: field 'timeout_ms'")
    step_on_error = _choice(raw.get("on_error", on_error), f"{where}: field 'on_error'", ON_ERROR)

    def make(target: str, **extra: Any) -> Step:
        fields: dict[str, Any] = {
            "name": name,
            "timeout_ms": step_timeout,
            "on_error": step_on_error,
            **extra,
        }
        return Step(number, kind, target, **fields)

    body = raw[kind]
    if kind == "go":
        url = _string(body, f"{where}: the URL", allow_empty=False)
        if base_url is not None:
            with contextlib.suppress(ValueError):  # _url refuses what cannot be parsed
                url = urljoin(base_url, url)
        return make(_url(url, f"{where}: the URL"))
    if kind in ("click", "note"):
        what = "the selector" if kind == "click" else "the note text"
        return make(_string(body, f"{where}: {what}", allow_empty=False))
    if kind == "fill":
        fields = _mapping(body, where, required=("selector", "value"), optional=("secret",))
        value = fields["value"]
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ScriptError(f"{where}: field 'value' must be text or a number.")
        secret = fields.get("secret", False)
        if not isinstance(secret, bool):
            raise ScriptError(f"{where}: field 'secret' must be true or false.")
        selector = _string(fields["selector"], f"{where}: field 'selector'", allow_empty=False)
        return make(selector, value=str(value), secret=secret)
    # expect: a selector, or {selector: ...} / {text: ...} with an optional timeout
    if isinstance(body, str):
        return make(_string(body, f"{where}: the selector", allow_empty=False))
    fields = _mapping(body, where, required=(), optional=("selector", "text", "timeout_ms"))
    if ("selector" in fields) == ("text" in fields):
        raise ScriptError(f"{where}: give exactly one of fields 'selector' and 'text'.")
    if "timeout_ms" in fields:
        step_timeout = _timeout(fields["timeout_ms"], f"{where}: field 'timeout_ms'")
    field_name = "text" if "text" in fields else "selector"
    target = _string(fields[field_name], f"{where}: field '{field_name}'", allow_empty=False)
    return make(target, by_text=field_name == "text")


def _mapping(
    body: Any, where: str, *, required: tuple[str, ...], optional: tuple[str, ...]
) -> dict[str, Any]:
    if not isinstance(body, dict):
        fields = ", ".join(required + optional)
        raise ScriptError(f"{where}: must be a mapping with fields {fields}.")
    for name in required:
        if name not in body:
            raise ScriptError(f"{where}: missing field {name!r}.")
    extra = sorted(set(map(str, body)) - set(required) - set(optional))
    if extra:
        raise ScriptError(f"{where}: unknown field {extra[0]!r}.")
    return {str(key): value for key, value in body.items()}


def _string(value: Any, what: str, *, allow_empty: bool = True) -> str:
    if not isinstance(value, str):
        raise ScriptError(f"{what} must be text.")
    if not allow_empty and not value.strip():
        raise ScriptError(f"{what} must not be empty.")
    return value


def _choice(value: Any, what: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ScriptError(f"{what} must be one of {', '.join(choices)} (got {_BRIEF.repr(value)}).")
    return str(value)


def _timeout(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= MAX_TIMEOUT_MS:
        raise ScriptError(f"{what} must be a whole number of milliseconds, 1 to {MAX_TIMEOUT_MS}.")
    return value


def _url(url: str, what: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError as error:  # an unclosed IPv6 bracket, a host NFKC turns into '/' or '@'
        raise ScriptError(f"{what} must be an http(s) URL (got {url!r}).") from error
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ScriptError(f"{what} must be an http(s) URL (got {url!r}).")
    return url


def _viewport(value: Any) -> tuple[int, int] | None:
    if value is None:
        return None
    fields = _mapping(value, "viewport", required=("width", "height"), optional=())
    size = []
    for name in ("width", "height"):
        number = fields[name]
        if not isinstance(number, int) or isinstance(number, bool) or not 200 <= number <= 8000:
            raise ScriptError(f"viewport: field {name!r} must be a whole number, 200 to 8000.")
        size.append(number)
    return size[0], size[1]
