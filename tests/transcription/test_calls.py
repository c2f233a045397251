"""Calls: per-channel speakers, turn labelling for mono, and metrics against a known truth."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.transcription.factory import CALL, CALL_REFERENCE, stereo_call, wav_bytes
from tests.transcription.test_pipeline import CALL_WER_BOUND
from transcription.calls import is_dual_channel, load_call, transcribe_call
from transcription.metrics import call_metrics, find_repeated_requests, find_transfers
from transcription.model import Segment, TimeRange, Transcript
from transcription.scoring import word_error_rate

#: Who really speaks when in call_phone8k.wav (agent turns; the caller has the rest).
CALL_AGENT_TURNS = [
    (0, 6.2),
    (13.9, 18.1),
    (23.2, 28.45),
    (31.2, 39.3),
    (42.6, 47.4),
    (51.7, 56.6),
    (62.3, 70.2),
    (74.2, 78.8),
    (82.4, 84.7),
]


@pytest.fixture(scope="module")
def chord_call():
    return stereo_call("chord")


@pytest.fixture(scope="module")
def chord_call_transcript(fw_engine, chord_call):
    return transcribe_call(wav_bytes(chord_call.samples), fw_engine)


@pytest.mark.slow
def test_stereo_call_is_labelled_by_channel(chord_call, chord_call_transcript):
    transcript = chord_call_transcript
    assert transcript.extra["dual_channel"] is True
    starts = [s.start for s in transcript.segments]
    assert starts == sorted(starts)
    for speaker, channel in (("caller", 0), ("agent", 1)):
        said, heard_all = [], []
        for span, words in chord_call.words[speaker]:
            heard = [
                s
                for s in transcript.segments
                if s.speaker == speaker and s.start < span.end and s.end > span.start
            ]
            assert heard, f"nothing from the {speaker} at {span}"
            assert all(s.channel == channel for s in heard)
            assert all(w.speaker == speaker for s in heard for w in s.words)
            said.append(words)
            heard_all.extend(s.text for s in heard)
        heard_text = " ".join(heard_all)
        assert word_error_rate(" ".join(said), heard_text) < 0.25, (speaker, heard_text)
    assert sum(s.speaker == "caller" for s in transcript.segments) >= 2
    assert not any(13.5 < s.start < 27.5 for s in transcript.segments), "text from hold music"


@pytest.mark.slow
@pytest.mark.parametrize("hold", ["chord", "tone"])
def test_stereo_call_metrics_match_the_truth(hold, chord_call_transcript):
    call = stereo_call(hold)
    metrics = call_metrics(wav_bytes(call.samples), chord_call_transcript)

    (period,) = metrics.hold.ranges
    assert period.start == pytest.approx(call.hold.start, abs=1.0)
    assert period.end == pytest.approx(call.hold.end, abs=1.0)
    assert metrics.hold.value == pytest.approx(call.hold.duration, abs=1.5)

    (quiet,) = metrics.silence.ranges
    true_silence_end = call.speech["agent"][-1].start
    assert quiet.start == pytest.approx(call.silence.start, abs=1.0)
    assert quiet.end == pytest.approx(true_silence_end, abs=1.0)

    assert metrics.overtalk is not None
    (both,) = metrics.overtalk.ranges
    assert both.start == pytest.approx(call.overtalk.start, abs=0.5)
    assert both.end == pytest.approx(call.overtalk.end, abs=0.5)

    truth = {k: sum(r.duration for r in v) for k, v in call.speech.items()}
    shares = {share.speaker: share for share in metrics.talk}
    for speaker in ("caller", "agent"):
        expected = truth[speaker] / sum(truth.values())
        assert shares[speaker].ratio == pytest.approx(expected, abs=0.07)
        for r in shares[speaker].ranges:
            assert any(
                r.start < t.end + 0.5 and r.end > t.start - 0.5 for t in call.speech[speaker]
            )
    assert metrics.first_answer is not None
    assert metrics.first_answer.value == pytest.approx(call.speech["agent"][0].start, abs=0.5)
    assert metrics.first_answer.ranges[0].start == metrics.first_answer.value
    json.dumps(metrics.to_dict())


@pytest.mark.slow
def test_mono_call_is_labelled_by_turn(fw_engine):
    transcript = transcribe_call(CALL, fw_engine)
    assert transcript.extra["speaker_labels"] == "turn-heuristic"
    assert word_error_rate(CALL_REFERENCE.read_text(), transcript.text) < CALL_WER_BOUND
    words = transcript.words
    right = sum(
        w.speaker
        == (
            "agent"
            if any(a <= (w.start + w.end) / 2 <= b for a, b in CALL_AGENT_TURNS)
            else "caller"
        )
        for w in words
    )
    assert right / len(words) > 0.85
    metrics = call_metrics(CALL, transcript)
    assert metrics.overtalk is None
    assert {s.speaker for s in metrics.talk} == {"agent", "caller"}
    assert metrics.first_answer is not None and metrics.first_answer.value < 1.0
    assert metrics.hold.ranges == ()


def test_channel_detection():
    left = np.sin(np.linspace(0, 1000, 16000)).astype(np.float32)
    right = np.cos(np.linspace(0, 700, 16000)).astype(np.float32)
    assert is_dual_channel(np.stack([left, right]))
    assert not is_dual_channel(np.stack([left, left]))
    assert not is_dual_channel(np.stack([left, np.zeros_like(left)]))
    assert not is_dual_channel(left[None])
    assert load_call(np.stack([left, left])).dual_channel is False


def _agent_caller(*lines: tuple[float, str, str]) -> Transcript:
    segments = tuple(Segment(t, t + 3, " " + text, speaker) for t, speaker, text in lines)
    return Transcript(segments, "en", "test", "test", 120.0)


def test_transfers_are_found_with_their_times():
    transcript = _agent_caller(
        (1, "agent", "Let me transfer you to billing."),
        (10, "caller", "Okay."),
        (20, "agent", "I'll put you through to a specialist now."),
        (30, "agent", "I can connect you with the team that handles that."),
        (40, "agent", "Thank you for waiting."),
    )
    transfers = find_transfers(transcript)
    assert [m.phrase for m in transfers] == ["transfer you", "put you through", "connect you with"]
    assert [m.range for m in transfers] == [TimeRange(1, 4), TimeRange(20, 23), TimeRange(30, 33)]


def test_repeated_requests_are_found_with_their_times():
    transcript = _agent_caller(
        (1, "agent", "Can I have your account number, please?"),
        (5, "caller", "It's 4 7 2 9 1 8."),
        (9, "agent", "And your postcode?"),
        (20, "agent", "Sorry, could you give me the account number again?"),
        (30, "caller", "What's my account number? I gave it to you."),
        (40, "agent", "What is your date of birth?"),
        (50, "agent", "You will receive a confirmation email."),
        (60, "agent", "Can you confirm your email address?"),
        (70, "agent", "One more time, what's the account number?"),
    )
    repeated = {r.item: r for r in find_repeated_requests(transcript, "agent")}
    assert set(repeated) == {"account number"}
    account = repeated["account number"]
    assert account.count == 3
    assert account.ranges == (TimeRange(1, 4), TimeRange(20, 23), TimeRange(70, 73))


@pytest.mark.slow
def test_call_metrics_carry_transcript_findings(chord_call):
    transcript = _agent_caller(
        (1, "agent", "What is your order number?"),
        (9, "agent", "Let me transfer you."),
        (33, "agent", "Could you repeat the order number?"),
    )
    metrics = call_metrics(chord_call.samples, transcript)
    assert metrics.transfer_count == 1 and metrics.transfers[0].range == TimeRange(9, 12)
    (request,) = metrics.repeated_requests
    assert (request.item, request.count) == ("order number", 2)
    data = json.loads(json.dumps(metrics.to_dict()))
    assert data["repeated_requests"][0]["ranges"] == [[1, 4], [33, 36]]
