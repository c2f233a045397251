"""Errors raised by the transcription package, each with a stable machine-readable code."""

from __future__ import annotations


class TranscriptionError(Exception):
    """Base class: `code` is stable and safe to show to clients; the message is for people."""

    code = "transcription.error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self)


class AudioError(TranscriptionError):
    """The media could not be accepted or decoded."""

    code = "audio.invalid"


class EmptyAudio(AudioError):
    code = "audio.empty"


class UnsupportedAudio(AudioError):
    """Not one of the container formats on the whitelist."""

    code = "audio.unsupported"


class ReferenceRefused(UnsupportedAudio):
    """A playlist or reference file (HLS, ffconcat, ...) that would make the decoder open others."""

    code = "audio.reference"


class CorruptAudio(AudioError):
    code = "audio.corrupt"


class TruncatedAudio(AudioError):
    code = "audio.truncated"


class NoAudioStream(AudioError):
    code = "audio.no_audio"


class AudioTooLong(AudioError):
    code = "audio.too_long"


class DecodeLimitExceeded(AudioError):
    """Decoding ran past its time bound."""

    code = "audio.decode_limit"


class EngineError(TranscriptionError):
    """A speech-recognition engine or its model is not available."""

    code = "engine.error"
