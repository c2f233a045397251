"""Speech-recognition engines behind one interface, with models loaded once per process.

`FasterWhisperEngine` (CTranslate2; int8 on CPU, float16 on CUDA) is the default.
`OpenAIWhisperEngine` runs the reference `whisper` package, an optional dependency.
Both transcribe a list of clips (time ranges of one 16 kHz mono signal) independently, so a
clip's timestamps are anchored to its own start and cannot drift over a long recording.
"""

from __future__ import annotations

import importlib
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import ctranslate2
import numpy as np
from faster_whisper import BatchedInferencePipeline, WhisperModel

from transcription.errors import EngineError
from transcription.model import TimeRange, Word

SAMPLE_RATE = 16000
DEFAULT_ENGINE = "faster-whisper"
DEFAULT_MODEL = "small.en"
ENGINE_ENV = "FIELDBOOK_WHISPER_ENGINE"
MODEL_ENV = "FIELDBOOK_WHISPER_MODEL"
THREADS_ENV = "FIELDBOOK_WHISPER_THREADS"
DEVICE_ENV = "FIELDBOOK_WHISPER_DEVICE"
_TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
#: Beam width of both engines. Eight, not Whisper's customary five: with int8 weights on
#: the CPU, beam 5 loses about 3 WER points to float32 on the call fixture, and beam 8
#: wins them back (0.357 -> 0.312) for a quarter of float32's CPU (docs/benchmarks.md).
DEFAULT_BEAM_SIZE = 8
#: Clips decoded together on the CPU. Batches of 4 were barely faster there and raised
#: the worker's peak memory by 40%; on CUDA batching pays.
CPU_BATCH_SIZE = 1


@dataclass(frozen=True)
class DecodeOptions:
    """Per-call decoding settings; the repetition knobs are used when re-decoding a loop."""

    beam_size: int = DEFAULT_BEAM_SIZE
    language: str | None = None
    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 0


@dataclass(frozen=True)
class EngineSegment:
    """A segment as an engine produced it, with the scores the post-filters need."""

    start: float
    end: float
    text: str
    words: tuple[Word, ...]
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float


class Engine(ABC):
    """A Whisper implementation with one model on one device."""

    name: str = "engine"

    def __init__(self, model: str | None, beam_size: int) -> None:
        self.model = model or DEFAULT_MODEL
        self.beam_size = beam_size

    @property
    def model_label(self) -> str:
        """The model as recorded in transcripts: a name, or a local path's last component."""
        return os.path.basename(self.model.rstrip("/\\")) if _is_local(self.model) else self.model

    @abstractmethod
    def load(self) -> None:
        """Load the model now (it is cached for the process) instead of on first use."""

    @abstractmethod
    def transcribe_clips(
        self, audio: np.ndarray, clips: Sequence[TimeRange], options: DecodeOptions
    ) -> tuple[list[EngineSegment], str | None]:
        """Transcribe each clip of 16 kHz mono `audio`; times are seconds into `audio`."""

    @property
    @abstractmethod
    def english_only(self) -> bool:
        """Whether the model knows English alone (``*.en``)."""

    def default_options(self) -> DecodeOptions:
        return DecodeOptions(beam_size=self.beam_size, language="en" if self.english_only else None)


# --- the model cache ----------------------------------------------------------------------

_MODELS: dict[tuple[Any, ...], Any] = {}
_MODELS_LOCK = threading.Lock()


def _cached(key: tuple[Any, ...], factory: Callable[[], Any]) -> Any:
    with _MODELS_LOCK:
        if key not in _MODELS:
            _MODELS[key] = factory()
        return _MODELS[key]


def loaded_models() -> tuple[tuple[Any, ...], ...]:
    """Keys (engine, model, device, compute type, threads) of the models loaded so far."""
    with _MODELS_LOCK:
        return tuple(_MODELS)


def clear_model_cache() -> None:
    """Forget loaded models (tests, or to free memory)."""
    with _MODELS_LOCK:
        _MODELS.clear()


def _is_local(model: str) -> bool:
    return (
        os.path.exists(model)
        or model.startswith(("/", "./", "../", "~"))
        or model.endswith((".pt", ".bin"))
    )


def _local_path(model: str, want_dir: bool) -> str | None:
    """Return the checked local path for `model`, or None when it names a model to fetch."""
    if not _is_local(model):
        return None
    path = os.path.expanduser(model)
    ok = os.path.isdir(path) if want_dir else os.path.isfile(path)
    if not ok:
        kind = "directory" if want_dir else "checkpoint file"
        raise EngineError(f"model {kind} not found: {model}", code="engine.model_not_found")
    return path


# --- faster-whisper -----------------------------------------------------------------------


class FasterWhisperEngine(Engine):
    """faster-whisper (CTranslate2). A model directory loads as is; a name may be fetched."""

    name = "faster-whisper"

    def __init__(
        self,
        model: str | None = None,
        *,
        device: str = "auto",
        compute_type: str | None = None,
        cpu_threads: int = 0,
        batch_size: int | None = None,
        beam_size: int = DEFAULT_BEAM_SIZE,
        download_root: str | None = None,
        local_files_only: bool = False,
    ) -> None:
        super().__init__(model, beam_size)
        if device == "auto":
            device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
        self.device = device
        self.compute_type = compute_type or ("float16" if device == "cuda" else "int8")
        self.cpu_threads = cpu_threads
        self.batch_size = batch_size or (16 if device == "cuda" else CPU_BATCH_SIZE)
        self.download_root = download_root
        self.local_files_only = local_files_only

    def _model(self) -> WhisperModel:
        path = _local_path(self.model, want_dir=True)
        key = (self.name, path or self.model, self.device, self.compute_type, self.cpu_threads)

        def load() -> WhisperModel:
            try:
                return WhisperModel(
                    path or self.model,
                    device=self.device,
                    compute_type=self.compute_type,
                    cpu_threads=self.cpu_threads,
                    download_root=self.download_root,
                    local_files_only=self.local_files_only or path is not None,
                )
            except (OSError, RuntimeError, ValueError) as exc:
                raise EngineError(
                    f"could not load faster-whisper model {self.model_label!r}: {exc}",
                    code="engine.model_not_found",
                ) from exc

        return _cached(key, load)

    def load(self) -> None:
        self._model()

    @property
    def english_only(self) -> bool:
        return not self._model().model.is_multilingual

    def transcribe_clips(
        self, audio: np.ndarray, clips: Sequence[TimeRange], options: DecodeOptions
    ) -> tuple[list[EngineSegment], str | None]:
        if not clips:
            return [], options.language
        pipeline = BatchedInferencePipeline(self._model())
        segments, info = pipeline.transcribe(
            np.ascontiguousarray(audio, dtype=np.float32),
            language=options.language,
            clip_timestamps=[{"start": c.start, "end": c.end} for c in clips],
            beam_size=options.beam_size,
            batch_size=self.batch_size,
            word_timestamps=True,
            without_timestamps=True,
            repetition_penalty=options.repetition_penalty,
            no_repeat_ngram_size=options.no_repeat_ngram_size,
            vad_filter=False,
        )
        out = [
            EngineSegment(
                start=float(s.start),
                end=float(s.end),
                text=s.text,
                words=tuple(
                    Word(float(w.start), float(w.end), w.word, float(w.probability))
                    for w in s.words or ()
                ),
                avg_logprob=float(s.avg_logprob),
                no_speech_prob=float(s.no_speech_prob),
                compression_ratio=float(s.compression_ratio),
            )
            for s in segments
        ]
        return out, info.language


# --- openai-whisper -----------------------------------------------------------------------


def _import_whisper() -> ModuleType:
    try:
        return importlib.import_module("whisper")
    except ImportError as exc:
        raise EngineError(
            "the openai-whisper engine needs the 'whisper' package: "
            "pip install 'fieldbook[reference]'",
            code="engine.unavailable",
        ) from exc


class OpenAIWhisperEngine(Engine):
    """The reference `whisper` package (PyTorch). A checkpoint path loads without a download."""

    name = "openai-whisper"

    def __init__(
        self,
        model: str | None = None,
        *,
        device: str = "auto",
        cpu_threads: int = 0,
        beam_size: int = DEFAULT_BEAM_SIZE,
        download_root: str | None = None,
    ) -> None:
        super().__init__(model, beam_size)
        self._whisper = _import_whisper()
        torch = importlib.import_module("torch")
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self._torch = torch
        self.device = device
        self.cpu_threads = cpu_threads
        self.download_root = download_root
        self._lock = threading.Lock()

    def _model(self) -> Any:
        path = _local_path(self.model, want_dir=False)
        key = (self.name, path or self.model, self.device, "float32", self.cpu_threads)
        self._set_threads()

        def load() -> Any:
            try:
                return self._whisper.load_model(
                    path or self.model, device=self.device, download_root=self.download_root
                )
            except (OSError, RuntimeError, ValueError) as exc:
                raise EngineError(
                    f"could not load whisper model {self.model_label!r}: {exc}",
                    code="engine.model_not_found",
                ) from exc

        return _cached(key, load)

    def _set_threads(self) -> None:
        if self.cpu_threads > 0:
            self._torch.set_num_threads(self.cpu_threads)

    def load(self) -> None:
        self._model()

    @property
    def english_only(self) -> bool:
        return not self._model().is_multilingual

    def transcribe_clips(
        self, audio: np.ndarray, clips: Sequence[TimeRange], options: DecodeOptions
    ) -> tuple[list[EngineSegment], str | None]:
        model = self._model()
        out: list[EngineSegment] = []
        languages: list[str] = []
        with self._lock:
            self._set_threads()
            for clip in clips:
                piece = audio[int(clip.start * SAMPLE_RATE) : int(clip.end * SAMPLE_RATE)]
                result = model.transcribe(
                    np.ascontiguousarray(piece, dtype=np.float32),
                    language=options.language,
                    beam_size=options.beam_size,
                    best_of=options.beam_size,
                    temperature=_TEMPERATURES,
                    compression_ratio_threshold=2.4,
                    logprob_threshold=-1.0,
                    no_speech_threshold=0.6,
                    condition_on_previous_text=False,
                    word_timestamps=True,
                    fp16=self.device == "cuda",
                    verbose=None,
                )
                languages.append(result.get("language") or "")
                out.extend(_whisper_segment(s, clip.start) for s in result["segments"])
        spoken = [lang for lang in languages if lang]
        language = options.language or (max(set(spoken), key=spoken.count) if spoken else None)
        return out, language


def _whisper_segment(segment: dict[str, Any], offset: float) -> EngineSegment:
    words = tuple(
        Word(
            float(w["start"]) + offset,
            float(w["end"]) + offset,
            str(w["word"]),
            min(1.0, max(0.0, float(w["probability"]))),
        )
        for w in segment.get("words") or ()
    )
    return EngineSegment(
        start=float(segment["start"]) + offset,
        end=float(segment["end"]) + offset,
        text=str(segment["text"]),
        words=words,
        avg_logprob=float(segment["avg_logprob"]),
        no_speech_prob=float(segment["no_speech_prob"]),
        compression_ratio=float(segment["compression_ratio"]),
    )


# --- choosing an engine -------------------------------------------------------------------

_ENGINES: dict[str, type[Engine]] = {
    "faster-whisper": FasterWhisperEngine,
    "faster_whisper": FasterWhisperEngine,
    "openai-whisper": OpenAIWhisperEngine,
    "openai_whisper": OpenAIWhisperEngine,
    "whisper": OpenAIWhisperEngine,
}


def get_engine(name: str | None = None, model: str | None = None, **options: Any) -> Engine:
    """Build the named engine; name, model, threads and device default from FIELDBOOK_WHISPER_*."""
    name = (name or os.environ.get(ENGINE_ENV) or DEFAULT_ENGINE).strip().lower()
    if name not in _ENGINES:
        known = ", ".join(sorted({"faster-whisper", "openai-whisper"}))
        raise EngineError(f"unknown engine {name!r}; use one of {known}", code="engine.unknown")
    model = model or os.environ.get(MODEL_ENV) or DEFAULT_MODEL
    if "cpu_threads" not in options and os.environ.get(THREADS_ENV):
        options["cpu_threads"] = int(os.environ[THREADS_ENV])
    if "device" not in options and os.environ.get(DEVICE_ENV):
        options["device"] = os.environ[DEVICE_ENV]
    return _ENGINES[name](model, **options)
