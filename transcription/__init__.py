"""Audio in, transcript out: safe decoding, Whisper engines, calls, call metrics, redaction.

Knows nothing of Flask or the database; the server adapts its rows to these plain types.
"""

from transcription.audio import AudioLimits, MediaInfo, decode, probe, sniff_container
from transcription.calls import CallAudio, load_call, transcribe_call
from transcription.engines import (
    Engine,
    FasterWhisperEngine,
    OpenAIWhisperEngine,
    clear_model_cache,
    get_engine,
)
from transcription.errors import (
    AudioError,
    AudioTooLong,
    CorruptAudio,
    DecodeLimitExceeded,
    EmptyAudio,
    EngineError,
    NoAudioStream,
    ReferenceRefused,
    TranscriptionError,
    TruncatedAudio,
    UnsupportedAudio,
)
from transcription.metrics import CallMetrics, MetricSettings, call_metrics
from transcription.model import Segment, TimeRange, Transcript, Word
from transcription.pipeline import TranscribeSettings, transcribe
from transcription.redaction import RedactedRange, RedactedTranscript, bleep, redact, redact_text
from transcription.scoring import normalise_text, word_error_rate

__all__ = [
    "AudioError",
    "AudioLimits",
    "AudioTooLong",
    "CallAudio",
    "CallMetrics",
    "CorruptAudio",
    "DecodeLimitExceeded",
    "EmptyAudio",
    "Engine",
    "EngineError",
    "FasterWhisperEngine",
    "MediaInfo",
    "MetricSettings",
    "NoAudioStream",
    "OpenAIWhisperEngine",
    "RedactedRange",
    "RedactedTranscript",
    "ReferenceRefused",
    "Segment",
    "TimeRange",
    "TranscribeSettings",
    "Transcript",
    "TranscriptionError",
    "TruncatedAudio",
    "UnsupportedAudio",
    "Word",
    "bleep",
    "call_metrics",
    "clear_model_cache",
    "decode",
    "get_engine",
    "load_call",
    "normalise_text",
    "probe",
    "redact",
    "redact_text",
    "sniff_container",
    "transcribe",
    "transcribe_call",
    "word_error_rate",
]
