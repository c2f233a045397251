"""Finding personal data in text: card, phone, e-mail, account and spoken digit runs.

Transcripts write numbers both ways ("4111 1111 ..." and "four one one one ..."), split them
across words with spaces, commas and dashes, and spell e-mail addresses out ("billing at
northwind energy dot com"), so the detectors work on runs of digit tokens rather than on
single words.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

import phonenumbers

CARD, PHONE, EMAIL, ACCOUNT, NUMBER = "CARD", "PHONE", "EMAIL", "ACCOUNT", "NUMBER"
#: Earlier kinds win where detections overlap.
PRIORITY = (EMAIL, CARD, PHONE, ACCOUNT, NUMBER)
DEFAULT_REGION = "GB"
MIN_SPOKEN_DIGITS = 4
MIN_WRITTEN_DIGITS = 6


class Span(NamedTuple):
    """Characters [start, end) of a text that hold one kind of personal data."""

    start: int
    end: int
    kind: str


def placeholder(kind: str) -> str:
    return f"[{kind}]"


_SPOKEN = {
    "zero": "0",
    "oh": "0",
    "nought": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
}
_TOKEN = re.compile(
    r"\d+|\b(?:(?:double|triple)[\s-]+)?(?:" + "|".join(_SPOKEN) + r")\b", re.IGNORECASE
)
_SEPARATOR = re.compile(r"[\s,\-\u2013/]*")
_THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+")
_EMAIL = re.compile(r"\b[\w.+-]+\s?@\s?[\w-]+(?:\.[\w-]+)+\b")
_DOT = r"(?:\s*\.\s*|\s+dot\s+)"
_TLD = r"(?:com|net|org|co|uk|io|edu|gov|info|biz|me|us|de|fr|ie|au|ca|nz)"
_SPOKEN_EMAIL = re.compile(
    rf"\b[\w+-]+(?:{_DOT}[\w+-]+)*\s+at\s+(?:[\w-]+\s+){{0,3}}?[\w-]+{_DOT}"
    rf"(?:[\w-]+{_DOT})?{_TLD}\b",
    re.IGNORECASE,
)
_ACCOUNT_KEY = re.compile(
    r"\b(?:account|acct|order|reference|ref|customer|member(?:ship)?|policy|booking"
    r"|confirmation|case|ticket|invoice|tracking|sort code|iban)\b"
    r"(?:\s*(?:number|no\.?|#|id|code|ref))?",
    re.IGNORECASE,
)
_IDENTIFIER = re.compile(r"\b(?=[A-Z0-9-]*\d)[A-Z0-9](?:[A-Z0-9-]*[A-Z0-9]){3,}\b", re.IGNORECASE)
_ACCOUNT_REACH = 6  # words allowed between the keyword and the number


@dataclass(frozen=True)
class _Run:
    start: int
    end: int
    digits: str
    spoken: bool


def find_pii(text: str, region: str = DEFAULT_REGION) -> list[Span]:
    """Return non-overlapping spans of personal data in `text`, in order."""
    runs = list(_digit_runs(text))
    candidates = [
        *_emails(text),
        *_cards(runs),
        *_phones(text, runs, region),
        *_accounts(text, runs),
        *_numbers(text, runs),
    ]
    chosen: list[Span] = []
    for span in sorted(candidates, key=lambda s: (PRIORITY.index(s.kind), s.start - s.end)):
        if all(span.end <= c.start or span.start >= c.end for c in chosen):
            chosen.append(span)
    return sorted(chosen)


def apply_spans(text: str, spans: list[Span], offset: int = 0) -> str:
    """Replace each span (shifted by -offset and clipped to the text) by its placeholder."""
    out = []
    cursor = 0
    for span in sorted(spans):
        start = min(len(text), max(cursor, span.start - offset))
        end = min(len(text), max(start, span.end - offset))
        if end <= start:
            continue
        out.append(text[cursor:start])
        out.append(placeholder(span.kind))
        cursor = end
    out.append(text[cursor:])
    return "".join(out)


def _digit_runs(text: str) -> Iterator[_Run]:
    """Maximal runs of digit tokens joined by separators, either all written ("4111 1111")
    or all spoken ("four one", "double seven"): "the other one 4111" is two runs."""
    run: list[re.Match[str]] = []
    for match in _TOKEN.finditer(text):
        joined = run and _SEPARATOR.fullmatch(text, run[-1].end(), match.start())
        same_kind = run and run[-1].group(0).isdigit() == match.group(0).isdigit()
        if run and not (joined and same_kind):
            yield _to_run(run)
            run = []
        run.append(match)
    if run:
        yield _to_run(run)


def _to_run(tokens: list[re.Match[str]]) -> _Run:
    digits = []
    spoken = False
    for token in tokens:
        word = token.group(0).lower()
        if word.isdigit():
            digits.append(word)
            continue
        spoken = True
        parts = word.replace("-", " ").split()
        repeat = {"double": 2, "triple": 3}.get(parts[0], 1)
        digits.append(_SPOKEN[parts[-1]] * repeat)
    return _Run(tokens[0].start(), tokens[-1].end(), "".join(digits), spoken)


def _luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _emails(text: str) -> Iterator[Span]:
    for pattern in (_EMAIL, _SPOKEN_EMAIL):
        for match in pattern.finditer(text):
            yield Span(match.start(), match.end(), EMAIL)


def _cards(runs: list[_Run]) -> Iterator[Span]:
    for run in runs:
        if 13 <= len(run.digits) <= 19 and _luhn(run.digits):
            yield Span(run.start, run.end, CARD)


def _phones(text: str, runs: list[_Run], region: str) -> Iterator[Span]:
    for match in phonenumbers.PhoneNumberMatcher(text, region, phonenumbers.Leniency.VALID):
        yield Span(match.start, match.end, PHONE)
    for run in runs:
        if not run.spoken or not 7 <= len(run.digits) <= 15:
            continue
        try:
            number = phonenumbers.parse(run.digits, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            yield Span(run.start, run.end, PHONE)


def _accounts(text: str, runs: list[_Run]) -> Iterator[Span]:
    for key in _ACCOUNT_KEY.finditer(text):
        identifiers = [
            (run.start, run.end) for run in runs if len(run.digits) >= MIN_SPOKEN_DIGITS
        ] + [(m.start(), m.end()) for m in _IDENTIFIER.finditer(text, key.end())]
        following = sorted(s for s in identifiers if s[0] >= key.end())
        if not following:
            continue
        start, end = following[0]
        if len(text[key.end() : start].split()) <= _ACCOUNT_REACH:
            yield Span(start, end, ACCOUNT)


def _numbers(text: str, runs: list[_Run]) -> Iterator[Span]:
    for run in runs:
        written = text[run.start : run.end]
        if run.spoken and len(run.digits) >= MIN_SPOKEN_DIGITS:
            yield Span(run.start, run.end, NUMBER)
        elif not run.spoken and len(run.digits) >= MIN_WRITTEN_DIGITS:
            after_currency = run.start > 0 and text[run.start - 1] in "$£€"
            if after_currency or _THOUSANDS.fullmatch(written):
                continue
            yield Span(run.start, run.end, NUMBER)
