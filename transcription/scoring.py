"""Word error rate and the text normalisation it is computed on."""

from __future__ import annotations

import re
import unicodedata

_ONES = (
    *("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
    *("ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen"),
    *("eighteen", "nineteen"),
)
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_CURRENCY = {"$": ("dollar", "cent"), "£": ("pound", "penny"), "€": ("euro", "cent")}
_MONEY = re.compile(r"([$£€])\s?(\d+)(?:\.(\d{2}))?")
_NUMBER = re.compile(r"\d+")
_SPLIT_DIGITS = re.compile(r"(?<=\d)[,](?=\d{3}\b)")


def number_to_words(n: int) -> str:
    """Spell a non-negative integer below one million in English words."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + ("" if ones == 0 else " " + _ONES[ones])
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return _ONES[hundreds] + " hundred" + ("" if rest == 0 else " and " + number_to_words(rest))
    if n < 1_000_000:
        thousands, rest = divmod(n, 1000)
        tail = "" if rest == 0 else (" and " if rest < 100 else " ") + number_to_words(rest)
        return number_to_words(thousands) + " thousand" + tail
    return " ".join(_ONES[int(d)] for d in str(n))


def _money(match: re.Match[str]) -> str:
    major_name, minor_name = _CURRENCY[match.group(1)]
    major = int(match.group(2))
    words = f"{number_to_words(major)} {major_name}{'' if major == 1 else 's'}"
    if match.group(3) and int(match.group(3)):
        minor = int(match.group(3))
        plural = "" if minor == 1 else ("s" if minor_name != "penny" else "")
        minor_word = "pence" if minor_name == "penny" and minor != 1 else minor_name + plural
        words += f" and {number_to_words(minor)} {minor_word}"
    return f" {words} "


def normalise_text(text: str) -> str:
    """Lower-case, spell out numbers and money, and drop punctuation, for scoring."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = text.replace("&", " and ").replace("\u2019", "'")
    text = _SPLIT_DIGITS.sub("", text)
    text = _MONEY.sub(_money, text)
    text = _NUMBER.sub(lambda m: f" {number_to_words(int(m.group()))} ", text)
    text = re.sub(r"[^\w\s']", " ", text)
    text = re.sub(r"(?<!\w)'|'(?!\w)", " ", text)
    return " ".join(text.split())


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Return (substitutions + deletions + insertions) / reference words, after normalising."""
    ref = normalise_text(reference).split()
    hyp = normalise_text(hypothesis).split()
    if not ref:
        return 0.0 if not hyp else 1.0
    previous = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, 1):
        current = [i] + [0] * len(hyp)
        for j, hyp_word in enumerate(hyp, 1):
            current[j] = min(
                previous[j] + 1,
                current[j - 1] + 1,
                previous[j - 1] + (ref_word != hyp_word),
            )
        previous = current
    return previous[-1] / len(ref)
