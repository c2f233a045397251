"""Fixtures for the transcription tests: the shared models, loaded once per session."""

from __future__ import annotations

import importlib.util
import os

import pytest

from tests.transcription.factory import FW_MODEL, OPENAI_MODEL, SHARED
from transcription.engines import FasterWhisperEngine, OpenAIWhisperEngine

THREADS = min(4, os.cpu_count() or 1)
REQUIRE_SERVICES = os.environ.get("FIELDBOOK_REQUIRE_SERVICES") == "1"
HAVE_WHISPER = importlib.util.find_spec("whisper") is not None

#: openai-whisper is optional: skip without it, unless the run demands every service.
needs_whisper = pytest.mark.skipif(
    not HAVE_WHISPER and not REQUIRE_SERVICES,
    reason="openai-whisper is not installed (set FIELDBOOK_REQUIRE_SERVICES=1 to fail instead)",
)


def _require(path: os.PathLike[str]) -> None:
    if not os.path.exists(path):
        pytest.fail(
            f"{path} is missing: the shared/ folder must sit beside the repository ({SHARED})"
        )


@pytest.fixture(scope="session")
def fw_engine() -> FasterWhisperEngine:
    _require(FW_MODEL)
    engine = FasterWhisperEngine(str(FW_MODEL), cpu_threads=THREADS)
    engine.load()
    return engine


@pytest.fixture(scope="session")
def openai_engine() -> OpenAIWhisperEngine:
    if not HAVE_WHISPER:
        pytest.fail("openai-whisper is required (FIELDBOOK_REQUIRE_SERVICES=1) but not installed")
    _require(OPENAI_MODEL)
    engine = OpenAIWhisperEngine(str(OPENAI_MODEL), cpu_threads=THREADS)
    engine.load()
    return engine
