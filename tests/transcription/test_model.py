import json

import pytest

from transcription.model import Segment, TimeRange, Transcript, Word


def _transcript() -> Transcript:
    words = (
        Word(0.5, 0.9, " Hello", 0.91, "agent"),
        Word(0.9, 1.3333333, " there.", 0.8, "agent"),
    )
    return Transcript(
        segments=(
            Segment(0.5, 1.3333333, " Hello there.", "agent", 1, 0.855, words),
            Segment(2.0, 2.5, " Hi.", None, None, 0.5, ()),
        ),
        language="en",
        engine="faster-whisper",
        model="tiny.en",
        duration=3.0,
        extra={"speech_seconds": 1.2},
    )


def test_transcript_round_trips_through_json():
    transcript = _transcript()
    stored = json.loads(json.dumps(transcript.to_dict()))
    again = Transcript.from_dict(stored)
    assert again == transcript.normalised()
    assert again.to_dict() == stored
    assert again.segments[0].words[1].end == 1.333


def test_transcript_views():
    transcript = _transcript()
    assert transcript.text == "Hello there. Hi."
    assert [w.text for w in transcript.words] == [" Hello", " there."]
    assert transcript.speakers == ("agent",)
    assert transcript.segments[0].range == TimeRange(0.5, 1.3333333)


@pytest.mark.parametrize(
    "change",
    [
        {"schema": 99},
        {"duration": -1},
        {"segments": [{"start": 0, "end": 1, "text": "x", "confidence": 1.5}]},
        {"segments": [{"start": float("nan"), "end": 1, "text": "x"}]},
    ],
)
def test_from_dict_rejects_bad_data(change):
    data = _transcript().to_dict() | change
    with pytest.raises(ValueError):
        Transcript.from_dict(data)
