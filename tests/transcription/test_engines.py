"""Both engines on real speech, engine selection, local models and the model cache."""

from __future__ import annotations

import sys

import pytest

from tests.transcription.conftest import THREADS, needs_whisper
from tests.transcription.factory import FW_MODEL, JFK, JFK_TEXT, OPENAI_MODEL
from transcription import engines
from transcription.engines import FasterWhisperEngine, OpenAIWhisperEngine, get_engine
from transcription.errors import EngineError
from transcription.pipeline import transcribe
from transcription.scoring import word_error_rate


def _check_jfk(transcript, engine_name: str, model: str) -> None:
    assert word_error_rate(JFK_TEXT, transcript.text) < 0.10, transcript.text
    assert (transcript.engine, transcript.model, transcript.language) == (engine_name, model, "en")
    assert transcript.duration == pytest.approx(11.0, abs=0.01)
    words = transcript.words
    assert len(words) >= 20
    starts = [w.start for w in words]
    assert starts == sorted(starts), "word start times go back"
    assert all(0 <= w.start <= w.end <= transcript.duration + 0.05 for w in words)
    assert all(0.0 <= w.probability <= 1.0 for w in words)
    for segment in transcript.segments:
        assert 0.0 < segment.confidence <= 1.0
        assert segment.words[0].start >= segment.start - 0.05
        assert segment.words[-1].end <= segment.end + 0.05


@pytest.mark.slow
def test_faster_whisper_transcribes_jfk(fw_engine):
    _check_jfk(transcribe(JFK, fw_engine), "faster-whisper", "faster-whisper-tiny.en")


@pytest.mark.slow
@needs_whisper
def test_openai_whisper_transcribes_jfk(openai_engine):
    _check_jfk(transcribe(JFK.read_bytes(), openai_engine), "openai-whisper", "openai-tiny.en.pt")


def test_get_engine_reads_the_environment(monkeypatch):
    monkeypatch.setenv("FIELDBOOK_WHISPER_ENGINE", "faster-whisper")
    monkeypatch.setenv("FIELDBOOK_WHISPER_MODEL", str(FW_MODEL))
    monkeypatch.setenv("FIELDBOOK_WHISPER_THREADS", "3")
    monkeypatch.setenv("FIELDBOOK_WHISPER_DEVICE", "cpu")
    engine = get_engine()
    assert isinstance(engine, FasterWhisperEngine)
    assert (engine.model, engine.cpu_threads, engine.device) == (str(FW_MODEL), 3, "cpu")
    assert engine.compute_type == "int8"
    assert get_engine(model="base.en").model == "base.en"


def test_defaults_without_environment(monkeypatch):
    for name in ("ENGINE", "MODEL", "THREADS", "DEVICE"):
        monkeypatch.delenv(f"FIELDBOOK_WHISPER_{name}", raising=False)
    engine = get_engine()
    assert isinstance(engine, FasterWhisperEngine)
    assert engine.model == engines.DEFAULT_MODEL
    assert engine.device in ("cpu", "cuda")
    assert engine.compute_type == ("int8" if engine.device == "cpu" else "float16")


def test_unknown_engine():
    with pytest.raises(EngineError) as caught:
        get_engine("kaldi")
    assert caught.value.code == "engine.unknown"


def test_missing_local_model_is_an_error_not_a_download(tmp_path, monkeypatch):
    def no_download(*args, **kwargs):
        raise AssertionError("tried to download")

    monkeypatch.setattr("faster_whisper.transcribe.download_model", no_download)
    for missing in (str(tmp_path / "nowhere"), "./models/absent", "/no/such/model.pt"):
        with pytest.raises(EngineError) as caught:
            FasterWhisperEngine(missing, device="cpu").load()
        assert caught.value.code == "engine.model_not_found"


def test_openai_engine_without_whisper_says_so(monkeypatch):
    monkeypatch.setitem(sys.modules, "whisper", None)
    with pytest.raises(EngineError) as caught:
        OpenAIWhisperEngine(str(OPENAI_MODEL))
    assert caught.value.code == "engine.unavailable"
    assert "pip install" in str(caught.value)


@needs_whisper
def test_openai_engine_missing_checkpoint(tmp_path):
    with pytest.raises(EngineError) as caught:
        OpenAIWhisperEngine(str(tmp_path / "absent.pt"), device="cpu").load()
    assert caught.value.code == "engine.model_not_found"


@needs_whisper
def test_openai_engine_from_environment(monkeypatch, openai_engine):
    monkeypatch.setenv("FIELDBOOK_WHISPER_ENGINE", "openai-whisper")
    monkeypatch.setenv("FIELDBOOK_WHISPER_MODEL", str(OPENAI_MODEL))
    engine = get_engine(cpu_threads=THREADS)
    assert isinstance(engine, OpenAIWhisperEngine)
    assert engine._model() is openai_engine._model()


@pytest.mark.slow
def test_models_load_once_per_process(fw_engine):
    before = engines.loaded_models()
    twin = FasterWhisperEngine(str(FW_MODEL), cpu_threads=THREADS)
    assert twin._model() is fw_engine._model()
    assert engines.loaded_models() == before
    other_threads = FasterWhisperEngine(str(FW_MODEL), cpu_threads=1)
    assert other_threads._model() is not fw_engine._model()
    assert len(engines.loaded_models()) == len(before) + 1
