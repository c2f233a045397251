"""Post-filters for Whisper's repetition loops: n-gram loops and duplicated segments."""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TypeVar

from transcription.model import Segment

T = TypeVar("T")
MAX_NGRAM = 8
_NON_WORD = re.compile(r"[^\w']+")


def compression_ratio(text: str) -> float:
    """Whisper's loop score: raw UTF-8 length over zlib-compressed length."""
    raw = text.encode("utf-8")
    return len(raw) / len(zlib.compress(raw)) if raw else 0.0


def word_key(text: str) -> str:
    """A word as compared for repetition: lower case, no punctuation."""
    return _NON_WORD.sub("", text.lower())


def collapse_loops(items: Sequence[T], key: Callable[[T], str]) -> list[T]:
    """Keep one copy of any n-gram (n <= 8) repeated back to back past its allowance.

    A single word may repeat three times ("no, no, no") and a phrase twice before the run
    counts as a loop; a loop is cut down to its first occurrence.
    """
    keys = [key(item) for item in items]
    kept: list[T] = []
    i = 0
    while i < len(items):
        for n in range(1, MAX_NGRAM + 1):
            if i + 2 * n > len(items) or not any(keys[i : i + n]):
                continue
            repeats = 1
            while keys[i + repeats * n : i + (repeats + 1) * n] == keys[i : i + n]:
                repeats += 1
            if repeats > (3 if n == 1 else 2):
                kept.extend(items[i : i + n])
                i += repeats * n
                break
        else:
            kept.append(items[i])
            i += 1
    return kept


def collapse_segment(segment: Segment) -> Segment:
    """Remove n-gram loops from a segment, from its words when it has them."""
    if segment.words:
        words = collapse_loops(segment.words, lambda w: word_key(w.text))
        if len(words) == len(segment.words):
            return segment
        text = "".join(w.text for w in words)
        return replace(segment, words=tuple(words), text=text)
    tokens = segment.text.split()
    kept = collapse_loops(tokens, word_key)
    if len(kept) == len(tokens):
        return segment
    return replace(segment, text=" " + " ".join(kept))


def remove_loops(segments: Sequence[Segment], ratio_threshold: float = 2.4) -> list[Segment]:
    """Collapse loops, then drop segments still over the compression-ratio threshold and
    segments that repeat the previous one from the same channel word for word."""
    cleaned: list[Segment] = []
    last_by_channel: dict[int | None, str] = {}
    for segment in segments:
        segment = collapse_segment(segment)
        text_key = " ".join(word_key(w) for w in segment.text.split() if word_key(w))
        if not text_key or compression_ratio(segment.text.strip()) > ratio_threshold:
            continue
        if last_by_channel.get(segment.channel) == text_key:
            continue
        last_by_channel[segment.channel] = text_key
        cleaned.append(segment)
    return cleaned
