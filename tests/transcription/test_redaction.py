"""PII redaction of notes and transcripts, with the audio ranges to bleep."""

from __future__ import annotations

import json

import numpy as np
import pytest

from transcription.model import Segment, Transcript, Word
from transcription.redaction import RedactedTranscript, bleep, redact, redact_text


@pytest.mark.parametrize(
    ("text", "expected", "kinds"),
    [
        ("Card 4111 1111 1111 1111 expires soon.", "Card [CARD] expires soon.", ["CARD"]),
        ("Card 4111-1111-1111-1111.", "Card [CARD].", ["CARD"]),
        (
            "It's four one one one, one one one one, one one one one, one one one one.",
            "It's [CARD].",
            ["CARD"],
        ),
        ("Ring me on 020 7946 0958 tomorrow.", "Ring me on [PHONE] tomorrow.", ["PHONE"]),
        ("Or +1 415 555 2671.", "Or [PHONE].", ["PHONE"]),
        ("It's oh two oh seven nine four six oh nine five eight.", "It's [PHONE].", ["PHONE"]),
        ("Write to jane.doe+cx@example.co.uk now.", "Write to [EMAIL] now.", ["EMAIL"]),
        ("Email billing at northwind energy dot com.", "Email [EMAIL].", ["EMAIL"]),
        ("My account number is 47291833.", "My account number is [ACCOUNT].", ["ACCOUNT"]),
        ("The order number, it's AB-12345-X.", "The order number, it's [ACCOUNT].", ["ACCOUNT"]),
        ("Reference: NW472918.", "Reference: [ACCOUNT].", ["ACCOUNT"]),
        ("The code was double seven three oh nine.", "The code was [NUMBER].", ["NUMBER"]),
        (
            "Then 4111-1111-1111-1112 which fails Luhn.",
            "Then [NUMBER] which fails Luhn.",
            ["NUMBER"],
        ),
    ],
)
def test_redact_text_every_kind(text, expected, kinds):
    redacted, spans = redact_text(text)
    assert redacted == expected
    assert [s.kind for s in spans] == kinds
    for span in spans:
        assert text[span.start : span.end].strip() == text[span.start : span.end]


@pytest.mark.parametrize(
    "text",
    [
        "I waived the late fee of $12.50 and it arrives within two business days.",
        "Oh, I see. So the amount is just a guess?",
        "We have 1,250,000 customers since 2024, one of whom is me.",
        "Is there anything else I can help you with?",
    ],
)
def test_ordinary_text_is_left_alone(text):
    assert redact_text(text) == (text, [])


def _words(start: float, text: str, step: float = 0.4, speaker: str | None = None):
    return tuple(
        Word(
            round(start + i * step, 3), round(start + i * step + 0.3, 3), " " + token, 0.9, speaker
        )
        for i, token in enumerate(text.split())
    )


def _segment(start: float, text: str, speaker: str) -> Segment:
    words = _words(start, text, speaker=speaker)
    return Segment(
        words[0].start, words[-1].end, "".join(w.text for w in words), speaker, None, 0.9, words
    )


@pytest.fixture
def transcript() -> Transcript:
    return Transcript(
        segments=(
            _segment(0.0, "Can I have your account number, please?", "agent"),
            _segment(4.0, "Sure, it's four seven two, nine one eight, three three zero.", "caller"),
            _segment(10.0, "And the card is 4111 1111 1111 1111 thanks.", "caller"),
            _segment(16.0, "Call me on 020 7946 0958 or mail jo@example.com please.", "caller"),
            Segment(22.0, 25.0, " My email is sam at example dot org.", "caller", None, 0.8, ()),
        ),
        language="en",
        engine="test",
        model="test",
        duration=30.0,
    )


def test_redact_transcript_words_and_ranges(transcript):
    result = redact(transcript)
    texts = [s.text for s in result.transcript.segments]
    assert texts[0] == transcript.segments[0].text
    assert texts[1] == " Sure, it's [ACCOUNT]."
    assert texts[2] == " And the card is [CARD] thanks."
    assert texts[3] == " Call me on [PHONE] or mail [EMAIL] please."
    assert texts[4] == " My email is [EMAIL]."

    caller = result.transcript.segments[1]
    assert [w.text for w in caller.words] == [" Sure,", " it's", " [ACCOUNT]."]
    assert caller.words[-1].speaker == "caller"
    assert "".join(w.text for w in caller.words) == caller.text

    by_kind = {}
    for r in result.redacted_ranges:
        by_kind.setdefault(r.kind, []).append((r.start, r.end))
    original = transcript.segments
    assert by_kind["ACCOUNT"] == [(original[1].words[2].start, original[1].words[10].end)]
    assert by_kind["CARD"] == [(original[2].words[4].start, original[2].words[7].end)]
    assert by_kind["PHONE"] == [(original[3].words[3].start, original[3].words[5].end)]
    assert by_kind["EMAIL"] == [
        (original[3].words[8].start, original[3].words[8].end),
        (22.0, 25.0),
    ]
    leaked = " ".join(w.text for s in result.transcript.segments for w in s.words)
    for secret in ("4111", "seven", "7946", "jo@", "sam"):
        assert secret not in leaked and secret not in result.transcript.text


def test_redacted_transcript_round_trips(transcript):
    result = redact(transcript)
    stored = json.loads(json.dumps(result.to_dict()))
    again = RedactedTranscript.from_dict(stored)
    assert again.redacted_ranges == result.redacted_ranges
    assert again.transcript == result.transcript.normalised()


def test_bleep_replaces_only_the_ranges():
    rate = 16000
    t = np.arange(rate * 4) / rate
    voice = (0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    stereo = np.stack([voice, voice * 0.5])
    ranges = [(1.0, 1.5, "CARD"), (2.5, 3.0, "PHONE")]
    out = bleep(stereo, rate, ranges, pad=0.05)
    assert out.shape == stereo.shape and out is not stereo
    for start, end, _ in ranges:
        piece = out[0, int(start * rate) : int(end * rate)]
        spectrum = np.abs(np.fft.rfft(piece))
        assert np.fft.rfftfreq(len(piece), 1 / rate)[np.argmax(spectrum)] == pytest.approx(
            1000, abs=5
        )
        assert np.allclose(out[1, int(start * rate) : int(end * rate)], piece)
    untouched = np.ones(t.shape, bool)
    for start, end, _ in ranges:
        untouched[int((start - 0.05) * rate) : int((end + 0.05) * rate) + 1] = False
    assert np.array_equal(out[:, untouched], stereo[:, untouched])
    assert np.array_equal(bleep(voice, rate, []), voice)
